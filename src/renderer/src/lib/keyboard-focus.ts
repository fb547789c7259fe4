// Global shortcuts stay out of the way while the user types in a field.
export function isTyping(event: Event): boolean {
  const target = event.target as HTMLElement | null;
  if (!target || typeof target.closest !== 'function') return false;
  return target.isContentEditable || target.closest('input, textarea, select') !== null;
}
