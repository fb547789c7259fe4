// Keeps html[data-theme] at 'light' or 'dark': the user's choice, or the system's while they chose "system".
import { onScopeDispose, watchEffect, ref } from 'vue';

export function useThemeAttribute(choice: () => 'system' | 'light' | 'dark'): void {
  const query = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null;
  const systemDark = ref(query?.matches ?? false);
  const onChange = (event: MediaQueryListEvent) => (systemDark.value = event.matches);
  query?.addEventListener('change', onChange);
  onScopeDispose(() => query?.removeEventListener('change', onChange));
  watchEffect(() => {
    const chosen = choice();
    document.documentElement.dataset.theme =
      chosen === 'system' ? (systemDark.value ? 'dark' : 'light') : chosen;
  });
}
