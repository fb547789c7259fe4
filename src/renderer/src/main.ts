// Starts the renderer on whichever transport this page has: Electron's preload API, or serve mode's
// HTTP client (token from the page URL).
import { createApp, h } from 'vue';
import { createPinia } from 'pinia';
import App from './App.vue';
import { apiKey, connectApi } from './api.js';
import type { WorkbenchApi } from '../../shared/api.js';
import './styles/theme.css';

const api = connectApi({
  workbench: (window as { workbench?: WorkbenchApi }).workbench,
  location: window.location,
});

if (api) {
  createApp(App).provide(apiKey, api).use(createPinia()).mount('#app');
} else {
  createApp({
    render: () =>
      h('div', { class: 'fatal-page' }, [
        h('h1', 'This page needs its access token'),
        h('p', 'Open the exact address `metatpt serve` printed (it ends in ?token=…).'),
      ]),
  }).mount('#app');
}
