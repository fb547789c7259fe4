// Lowers a traced graph to an ONNX ModelProto (through the onnx-proto protobuf definitions).
import onnxProto from 'onnx-proto';
import { topologicalOrder } from './grad.js';
import { primitives } from './primitives.js';
import type { DType, HostArray, Tensor } from './tensor.js';

const { onnx } = onnxProto;

export const OPSET = 18;

/** Attribute values as the lowering rules write them: ints, int lists, strings, floats or tensors. */
export type OnnxAttr = number | number[] | string | { float: number } | onnxProto.onnx.ITensorProto;

/** What a primitive's `lower` rule may do: add nodes and small constants to the graph being built. */
export interface LowerContext {
  /** Adds one node and returns the name of its (single) output. */
  node(opType: string, inputs: string[], attrs?: Record<string, OnnxAttr>): string;
  /** Adds one node with `count` outputs (DynamicQuantizeLinear's value, scale and zero point). */
  nodeOutputs(opType: string, inputs: string[], count: number, attrs?: Record<string, OnnxAttr>): string[];
  int64s(values: readonly number[]): string;
  scalar(value: number, dtype: DType): string;
  zeroTensor(dtype: DType): onnxProto.onnx.ITensorProto;
  dtypeCode(dtype: DType): number;
  leaf(t: Tensor): string;
}

/** How `param` leaves enter the model: fed at run time (one shared copy per process) or inlined. */
export type ParamMode = 'feed' | 'inline';

export interface FedParam {
  name: string;
  tensor: Tensor;
}

export interface LoweredModel {
  bytes: Uint8Array;
  inputs: Tensor[];
  params: FedParam[];
  outputs: { name: string; tensor: Tensor }[];
}

const DTYPE_CODES: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  int8: onnx.TensorProto.DataType.INT8,
  bool: onnx.TensorProto.DataType.BOOL,
};

function bytesOf(data: HostArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function hostArray(dtype: DType, values: readonly number[]): HostArray {
  switch (dtype) {
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(values.map((v) => BigInt(v)));
    case 'int32':
      return Int32Array.from(values);
    case 'int8':
      return Int8Array.from(values);
    case 'bool':
      return Uint8Array.from(values);
    case 'float32':
      return Float32Array.from(values);
    case 'float16':
      throw new Error('float16 host constants are not supported; cast from float32');
  }
}

function tensorProto(
  name: string,
  dtype: DType,
  dims: readonly number[],
  data: HostArray,
): onnxProto.onnx.ITensorProto {
  return { name, dataType: DTYPE_CODES[dtype], dims: [...dims], rawData: bytesOf(data) };
}

function valueInfo(name: string, t: Tensor): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: { elemType: DTYPE_CODES[t.dtype], shape: { dim: t.shape.map((d) => ({ dimValue: d })) } },
    },
  };
}

function attribute(name: string, value: OnnxAttr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') return { name, type: T.INT, i: value };
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if ('float' in value) return { name, type: T.FLOAT, f: value.float };
  return { name, type: T.TENSOR, t: value };
}

/** Lowers the graph that computes `outputs` into a serialized ONNX model. */
export function lowerToOnnx(
  graphName: string,
  outputs: Record<string, Tensor>,
  paramMode: ParamMode,
): LoweredModel {
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  const graphInputs: onnxProto.onnx.IValueInfoProto[] = [];
  const inputs: Tensor[] = [];
  const params: FedParam[] = [];
  const names = new Map<number, string>();
  const leafNames = new Map<string, Tensor>();
  const int64Cache = new Map<string, string>();
  let counter = 0;
  const fresh = (prefix: string): string => `${prefix}_${counter++}`;

  const claimLeafName = (t: Tensor, name: string): string => {
    const other = leafNames.get(name);
    if (other && other !== t) throw new Error(`${graphName}: two different leaves are named '${name}'`);
    leafNames.set(name, t);
    return name;
  };

  const ctx: LowerContext = {
    node(opType, nodeInputs, attrs = {}) {
      return ctx.nodeOutputs(opType, nodeInputs, 1, attrs)[0];
    },
    nodeOutputs(opType, nodeInputs, count, attrs = {}) {
      const name = fresh(opType.toLowerCase());
      const output = Array.from({ length: count }, (_, i) => (i === 0 ? name : `${name}_${i}`));
      nodes.push({
        opType,
        name,
        input: nodeInputs,
        output,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      });
      return output;
    },
    int64s(values) {
      const key = values.join(',');
      let name = int64Cache.get(key);
      if (!name) {
        name = fresh('i64');
        initializers.push(tensorProto(name, 'int64', [values.length], hostArray('int64', values)));
        int64Cache.set(key, name);
      }
      return name;
    },
    scalar(value, dtype) {
      const name = fresh('scalar');
      if (dtype === 'float16') {
        initializers.push(tensorProto(name, 'float32', [], hostArray('float32', [value])));
        return ctx.node('Cast', [name], { to: DTYPE_CODES.float16 });
      }
      initializers.push(tensorProto(name, dtype, [], hostArray(dtype, [value])));
      return name;
    },
    zeroTensor(dtype) {
      return dtype === 'float16'
        ? tensorProto('zero', dtype, [1], new Uint16Array(1))
        : tensorProto('zero', dtype, [1], hostArray(dtype, [0]));
    },
    dtypeCode: (dtype) => DTYPE_CODES[dtype],
    leaf(t) {
      const data = t.attrs.data as HostArray | undefined;
      if (t.op === 'input') {
        const name = claimLeafName(t, t.attrs.name as string);
        graphInputs.push(valueInfo(name, t));
        inputs.push(t);
        return name;
      }
      if (t.op === 'param') {
        const name = claimLeafName(t, t.attrs.name as string);
        if (paramMode === 'feed') {
          graphInputs.push(valueInfo(name, t));
          params.push({ name, tensor: t });
        } else {
          initializers.push(tensorProto(name, t.dtype, t.shape, data!));
        }
        return name;
      }
      const name = fresh('const');
      initializers.push(tensorProto(name, t.dtype, t.shape, data!));
      return name;
    },
  };

  for (const t of topologicalOrder(Object.values(outputs))) {
    const inputNames = t.inputs.map((i) => names.get(i.id)!);
    names.set(t.id, primitives[t.op].lower(ctx, inputNames, t));
  }

  const graphOutputs = Object.entries(outputs).map(([name, t]) => {
    nodes.push({ opType: 'Identity', name: `out_${name}`, input: [names.get(t.id)!], output: [name] });
    return valueInfo(name, t);
  });

  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'metatpt-engine',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: graphName,
      node: nodes,
      initializer: initializers,
      input: graphInputs,
      output: graphOutputs,
    },
  });
  return {
    bytes: onnx.ModelProto.encode(model).finish(),
    inputs,
    params,
    outputs: Object.entries(outputs).map(([name, tensor]) => ({ name, tensor })),
  };
}
