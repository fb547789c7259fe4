// Keeps html[data-theme] at 'light' or 'dark': the user's choice, or the system's while they chose "system".
import { usePreferredDark } from '@vueuse/core';
import { watchEffect } from 'vue';

export function useThemeAttribute(choice: () => 'system' | 'light' | 'dark'): void {
  const systemDark = usePreferredDark();
  watchEffect(() => {
    const chosen = choice();
    document.documentElement.dataset.theme =
      chosen === 'system' ? (systemDark.value ? 'dark' : 'light') : chosen;
  });
}
