/*
 * docs.js - start Swagger UI on /openapi.yaml. The bearer token (the page's, kept in
 * sessionStorage) goes on every request Swagger UI makes, the spec fetch included. No
 * validator badge: nothing is fetched from anywhere but this server.
 */
'use strict';

const TOKEN_KEY = 'tessera.token';

function docsToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

function docsStart() {
  window.ui = window.SwaggerUIBundle({
    url: '/openapi.yaml',
    dom_id: '#swagger',
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    defaultModelsExpandDepth: 0,
    docExpansion: 'list',
    requestInterceptor: (req) => {
      const t = docsToken();
      const sameOrigin = new URL(req.url, window.location.href).origin === window.location.origin;
      if (t && sameOrigin && !req.headers.Authorization) req.headers.Authorization = `Bearer ${t}`;
      return req;
    },
  });
}

document.addEventListener('DOMContentLoaded', () => {
  const state = document.getElementById('token-state');
  const show = () => { state.textContent = docsToken() ? 'token set for this tab' : ''; };
  document.getElementById('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = document.getElementById('token');
    try { if (input.value.trim()) sessionStorage.setItem(TOKEN_KEY, input.value.trim()); } catch { /* off */ }
    input.value = '';
    show();
    docsStart();
  });
  show();
  docsStart();
});
