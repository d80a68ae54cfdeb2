// Starts the first requests of a Manager page while its JavaScript loads: who is signed in and, on a
// history address without filters, the first page of rows. api.ts takes these answers over (same URL)
// instead of asking again. A classic script, loaded before the app (the page's CSP allows no inline script).
(() => {
  const early = {};
  window.__relaisEarly = early;
  const get = (url) => {
    const response = fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
    response.catch(() => undefined);
    early[url] = response;
  };
  get('/api/v1/auth/me');
  const history = /^\/accounts\/([^/]+)\/history$/.exec(location.pathname);
  if (history && !location.search) get(`/api/v1/accounts/${history[1]}/outgoing?limit=100`);
})();
