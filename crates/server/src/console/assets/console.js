// Stowage console: progressive enhancement only. Every page works without
// this script; it refreshes the regions marked data-refresh="URL" every 2 s
// with server-rendered HTML fragments, and filters the queue list as you type.

const PERIOD_MS = 2000;
const FILTER_DELAY_MS = 250;
const last = new WeakMap();

async function refresh(region) {
  if (document.hidden) return;
  // Do not pull content out from under the keyboard focus.
  const focused = document.activeElement;
  if (focused && focused !== document.body && region.contains(focused)) return;
  const url = region.dataset.refresh;
  try {
    const response = await fetch(url, {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'text/html' },
    });
    if (response.redirected && new URL(response.url).pathname === '/console/login') {
      window.location.reload(); // the session ended: show the sign-in page
      return;
    }
    if (!response.ok) return;
    const html = await response.text();
    if (region.dataset.refresh !== url) return; // the filter changed meanwhile
    if (last.get(region) !== html) {
      region.innerHTML = html;
      last.set(region, html);
    }
    region.dataset.refreshes = String(Number(region.dataset.refreshes || '0') + 1);
  } catch (_) {
    // Server unreachable: keep showing the last figures.
  }
}

function refreshAll() {
  document.querySelectorAll('[data-refresh]').forEach(refresh);
}

function liveFilter(input) {
  const region = document.getElementById(input.dataset.filter);
  if (!region) return;
  let timer;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const q = encodeURIComponent(input.value.trim());
      region.dataset.refresh = `/console/fragments/queues?q=${q}&page=1`;
      window.history.replaceState(null, '', `/console/?q=${q}&page=1`);
      refresh(region);
    }, FILTER_DELAY_MS);
  });
}

document.querySelectorAll('input[data-filter]').forEach(liveFilter);
setInterval(refreshAll, PERIOD_MS);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) refreshAll();
});
