/*
 * Messenger widget loader. Host pages embed it with
 *   <script src="https://HOST/widget.js" async data-title="Acme support"></script>
 * It draws the launcher (and unread badge) in a shadow root and opens the
 * panel, an iframe of HOST/frame/ (widget/src). The conversation token stays
 * in this site's localStorage and reaches the frame only by postMessage
 * (protocol: widget/src/bridge.rs), never in a URL. Plain ES2019, no build.
 * A page opened from an emailed resume link (#mw-resume=CODE) hands the code
 * to the frame and opens the panel; the fragment leaves the address bar.
 */
(() => {
  'use strict';

  const script = document.currentScript || findOwnScript();
  if (!script || !script.src) return;

  const SERVER_ORIGIN = new URL(script.src, location.href).origin;
  const FRAME_URL = SERVER_ORIGIN + '/frame/';
  const TITLE = (script.getAttribute('data-title') || '').trim() || 'Messages';
  const STORAGE_KEY = 'messenger:' + SERVER_ORIGIN;
  const OUTBOX_KEY = STORAGE_KEY + ':outbox:';
  const SVG_NS = 'http://www.w3.org/2000/svg';

  // Included twice (a tag manager and by hand, say): one widget is enough.
  const LOADED = Symbol.for('messenger-widget:' + SERVER_ORIGIN);
  if (document[LOADED]) return;
  document[LOADED] = true;

  // The look, in one place. Normally a constructed stylesheet adopted by the
  // shadow root, which a strict host CSP (style-src without 'unsafe-inline')
  // allows, unlike a <style> element. Where adoptedStyleSheets is missing,
  // the plain `.class` rules are set on the elements through the CSSOM
  // instead (also CSP-proof); hover, focus and small-screen rules are lost.
  const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  const STYLE = {
    ':host': { all: 'initial' },
    '[hidden]': { display: 'none !important' },
    '.launcher': {
      position: 'fixed',
      right: '20px',
      bottom: '20px',
      display: 'flex',
      'align-items': 'center',
      'justify-content': 'center',
      width: '56px',
      height: '56px',
      margin: '0',
      padding: '0',
      border: '0',
      'border-radius': '50%',
      background: '#2563eb',
      color: '#fff',
      'box-shadow': '0 6px 20px rgba(15, 23, 42, 0.28)',
      cursor: 'pointer',
      'font-family': FONT,
    },
    '.launcher:hover': { background: '#1d4ed8' },
    '.launcher:focus-visible': {
      outline: '3px solid #1d4ed8',
      'outline-offset': '3px',
      'box-shadow': '0 0 0 3px #fff, 0 6px 20px rgba(15, 23, 42, 0.28)',
    },
    '.icon': {
      width: '28px',
      height: '28px',
      fill: 'none',
      stroke: 'currentColor',
      'stroke-width': '2',
      'stroke-linecap': 'round',
      'stroke-linejoin': 'round',
    },
    '.badge': {
      position: 'absolute',
      top: '-4px',
      right: '-4px',
      'box-sizing': 'border-box',
      'min-width': '22px',
      height: '22px',
      padding: '0 6px',
      'border-radius': '11px',
      background: '#dc2626',
      color: '#fff',
      'box-shadow': '0 0 0 2px #fff',
      font: '700 12px/22px ' + FONT,
      'text-align': 'center',
    },
    '.frame': {
      position: 'fixed',
      right: '20px',
      bottom: '88px',
      display: 'block',
      width: '380px',
      height: '620px',
      'max-width': 'calc(100vw - 40px)',
      'max-height': 'calc(100vh - 108px)',
      margin: '0',
      padding: '0',
      border: '0',
      'border-radius': '16px',
      background: '#fff',
      'box-shadow': '0 12px 48px rgba(15, 23, 42, 0.3)',
      'color-scheme': 'light',
    },
    '@media (max-width: 480px)': {
      '.frame': {
        inset: '0',
        width: '100%',
        height: '100%',
        'max-width': 'none',
        'max-height': 'none',
        'border-radius': '0',
      },
    },
    '@media (prefers-reduced-motion: no-preference)': {
      '.launcher': { transition: 'background-color 0.15s ease, transform 0.15s ease' },
      '.launcher:hover': { transform: 'scale(1.05)' },
    },
  };

  // Keeps the host element where it belongs whatever the host page's CSS
  // says: inline !important beats the page's own rules.
  const HOST_STYLE = {
    all: 'initial',
    position: 'fixed',
    right: '0',
    bottom: '0',
    width: '0',
    height: '0',
    margin: '0',
    padding: '0',
    border: '0',
    display: 'block',
    overflow: 'visible',
    visibility: 'visible',
    opacity: '1',
    transform: 'none',
    filter: 'none',
    'clip-path': 'none',
    contain: 'none',
    'z-index': '2147483000',
  };

  const host = document.createElement('messenger-widget');
  setStyles(host, HOST_STYLE);
  const root = host.attachShadow({ mode: 'open' });
  const adopted = adoptStyles(root);

  const launcher = element('button', {
    type: 'button',
    class: 'launcher',
    'data-testid': 'launcher',
    'aria-label': 'Open messages',
    'aria-expanded': 'false',
  });
  const chatIcon = icon(['M21 11.5a8.4 8.4 0 0 1-12.3 7.5L3 21l2-5.4A8.4 8.4 0 1 1 21 11.5z']);
  const closeIcon = icon(['M6 6l12 12', 'M18 6L6 18']);
  const badge = element('span', {
    class: 'badge',
    id: 'mw-unread',
    role: 'img',
    'data-testid': 'unread-badge',
  });
  launcher.append(chatIcon, closeIcon, badge);
  root.append(launcher);
  [launcher, chatIcon, closeIcon, badge].forEach(applyInline);
  show(closeIcon, false);
  show(badge, false);

  let open = false;
  let frame = null; // created on first need, then kept (hidden) while closed
  let frameReady = false; // the frame has said mw:ready
  let frameToken = null; // the token the frame was given
  let memory = { token: null, seen: 0, outbox: [] }; // when localStorage is unavailable
  // A resume link's code, for the frame's first mw:init only. Off the address
  // bar at once, so it is neither bookmarked, shared nor used twice.
  let resume = /^#mw-resume=(.+)/.exec(location.hash);
  if (resume) {
    resume = resume[1];
    history.replaceState(history.state, '', location.pathname + location.search);
  }

  // The site's tabs share one stream (see widget/src/tabs.rs): the tab holding
  // the Web Lock leads, and a BroadcastChannel relays what its panel shares.
  // Both live here, first-party: a third-party frame may be denied them.
  let leading = false;
  let channel = null;
  try {
    channel = new BroadcastChannel(STORAGE_KEY);
    channel.onmessage = (event) => post({ type: 'mw:shared', data: event.data });
  } catch (e) {
    // Without a channel to share over, every tab leads its own stream.
  }

  launcher.addEventListener('click', () => setOpen(!open));
  root.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && open) setOpen(false);
  });
  window.addEventListener('message', onMessage);
  // Another tab of this site started (or forgot) the conversation: reload the
  // panel so both tabs show the same one.
  window.addEventListener('storage', (event) => {
    if ((event.key || '').startsWith(OUTBOX_KEY)) {
      // Another tab changed the outbox: the leading panel sends it all.
      if (frameReady) post({ type: 'mw:stored', outbox: read().outbox });
      return;
    }
    if (event.key !== STORAGE_KEY) return;
    const token = read().token;
    if (!frame) {
      if (token) ensureFrame(); // to count the new conversation's unread replies
      return;
    }
    if (token !== frameToken) {
      frameToken = token; // what the reloaded frame will be given
      frameReady = false;
      frame.src = FRAME_URL;
    }
  });

  if (document.body) {
    document.body.appendChild(host);
  } else {
    document.addEventListener('DOMContentLoaded', () => document.body.appendChild(host), {
      once: true,
    });
  }

  // A returning customer's panel loads in the background once the page is
  // done, so the badge can show answers that came while they were away and
  // messages left unsent by an earlier visit go out.
  const stored = read();
  if (stored.token || stored.outbox.length) {
    const later = () =>
      'requestIdleCallback' in window
        ? window.requestIdleCallback(ensureFrame, { timeout: 5000 })
        : setTimeout(ensureFrame, 1);
    if (document.readyState === 'complete') later();
    else window.addEventListener('load', later, { once: true });
  }
  if (resume) setOpen(true);

  // Only our own frame, at SERVER_ORIGIN, is listened to; we post only there.
  function onMessage(event) {
    if (!frame || event.origin !== SERVER_ORIGIN || event.source !== frame.contentWindow) return;
    const data = event.data;
    // A frame being reloaded speaks for a conversation no longer stored.
    if (!data || typeof data !== 'object' || (!frameReady && data.type !== 'mw:ready')) return;
    const state = read();
    // Token and seen change only for the conversation the frame was given.
    const current = data.of === state.token;
    switch (data.type) {
      case 'mw:ready': {
        frameReady = true;
        frameToken = state.token;
        post({ type: 'mw:init', token: state.token, seen: state.seen, outbox: state.outbox, title: TITLE, open, lead: leading, resume, page: location.href });
        resume = null;
        break;
      }
      case 'mw:token':
        if (current && (data.token === null || isToken(data.token))) {
          frameToken = data.token;
          write(Object.assign(state, { token: data.token, seen: 0 }));
        }
        break;
      case 'mw:seen':
        if (current && isCount(data.seq) && data.seq > state.seen) write(Object.assign(state, { seen: data.seq }));
        break;
      case 'mw:outbox': {
        // The customer's unacknowledged messages: remove `id`, then store
        // `message` if given. Kept here, first-party, until the server has them.
        if (typeof data.id !== 'string') break;
        const message = data.message && typeof data.message === 'object' ? data.message : null;
        try {
          if (message) localStorage.setItem(OUTBOX_KEY + data.id, JSON.stringify(message));
          else localStorage.removeItem(OUTBOX_KEY + data.id);
        } catch (e) {
          // Blocked or full: the panel still holds it for this page view.
        }
        break;
      }
      case 'mw:unread':
        if (isCount(data.count)) setUnread(data.count);
        break;
      case 'mw:close':
        setOpen(false);
        break;
      case 'mw:share':
        if (channel && typeof data.data === 'string') channel.postMessage(data.data);
        break;
    }
  }

  function setOpen(next) {
    if (next === open) return;
    open = next;
    if (open) ensureFrame();
    show(frame, open);
    show(chatIcon, !open);
    show(closeIcon, open);
    launcher.setAttribute('aria-expanded', String(open));
    launcher.setAttribute('aria-label', open ? 'Close messages' : 'Open messages');
    if (frameReady) post({ type: 'mw:visibility', open });
    // The frame puts the cursor in its composer once it is visible.
    if (open) frame.focus();
    else launcher.focus();
  }

  function ensureFrame() {
    if (frame) return;
    frame = element('iframe', {
      src: FRAME_URL,
      title: TITLE,
      class: 'frame',
      id: 'mw-frame',
      'data-testid': 'messenger-frame',
    });
    applyInline(frame);
    show(frame, open);
    launcher.setAttribute('aria-controls', 'mw-frame');
    root.append(frame);
    if (channel) lead();
    else leading = true;
  }

  // Lines up for the lead, held until the tab closes; alone without locks.
  function lead() {
    const won = () => {
      leading = true;
      if (frameReady) post({ type: 'mw:lead' });
    };
    try {
      navigator.locks.request(STORAGE_KEY, () => (won(), new Promise(() => {}))).catch(won);
    } catch (e) {
      won();
    }
  }

  function setUnread(count) {
    badge.textContent = count > 99 ? '99+' : String(count);
    badge.setAttribute('aria-label', count === 1 ? '1 unread message' : count + ' unread messages');
    if (count > 0) launcher.setAttribute('aria-describedby', 'mw-unread');
    else launcher.removeAttribute('aria-describedby');
    show(badge, count > 0);
  }

  function post(message) {
    if (frame && frame.contentWindow) frame.contentWindow.postMessage(message, SERVER_ORIGIN);
  }

  // Storage, in the host's first-party localStorage (token and seen in memory
  // where that is blocked): {"token": string|null, "seen": number} at STORAGE_KEY, and each
  // unsent message at OUTBOX_KEY + its id, so tabs writing at the same moment
  // never undo each other's entries. The frame checks every entry itself.
  function read() {
    try {
      const storage = window.localStorage;
      const parsed = parse(storage.getItem(STORAGE_KEY)) || {};
      const outbox = [];
      for (let i = 0; i < storage.length; i += 1) {
        const key = storage.key(i);
        if (key.startsWith(OUTBOX_KEY)) outbox.push(parse(storage.getItem(key)));
      }
      return {
        token: isToken(parsed.token) ? parsed.token : null,
        seen: isCount(parsed.seen) ? parsed.seen : 0,
        outbox: outbox.filter((m) => m && typeof m === 'object').sort((a, b) => a.at - b.at),
      };
    } catch (e) {
      return Object.assign({}, memory);
    }
  }

  function write(state) {
    memory = state;
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify({ token: state.token, seen: state.seen }));
    } catch (e) {
      // Blocked or full: the in-memory copy lasts for this page view.
    }
  }

  function parse(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return null;
    }
  }

  function isToken(value) {
    return typeof value === 'string' && value.length > 0 && value.length <= 512;
  }

  function isCount(value) {
    return Number.isSafeInteger(value) && value >= 0;
  }

  // DOM and style helpers.

  function element(tag, attributes) {
    const el = document.createElement(tag);
    Object.keys(attributes).forEach((name) => el.setAttribute(name, attributes[name]));
    return el;
  }

  function icon(paths) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', 'icon');
    svg.setAttribute('aria-hidden', 'true');
    paths.forEach((d) => {
      const path = document.createElementNS(SVG_NS, 'path');
      path.setAttribute('d', d);
      svg.appendChild(path);
    });
    return svg;
  }

  function show(el, visible) {
    if (!el) return;
    if (visible) el.removeAttribute('hidden');
    else el.setAttribute('hidden', '');
    if (!adopted) {
      el.style.removeProperty('display');
      if (visible) applyInline(el);
      else el.style.setProperty('display', 'none', 'important');
    }
  }

  function adoptStyles(shadowRoot) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(toCss(STYLE));
      shadowRoot.adoptedStyleSheets = [sheet];
      return true;
    } catch (e) {
      return false;
    }
  }

  function toCss(rules) {
    return Object.keys(rules)
      .map((selector) => {
        const body = rules[selector];
        if (selector.charAt(0) === '@') return selector + '{' + toCss(body) + '}';
        const declarations = Object.keys(body).map((name) => name + ':' + body[name]);
        return selector + '{' + declarations.join(';') + '}';
      })
      .join(''); // (no escapes in strings: see tools/src/minify_loader.rs)
  }

  function applyInline(el) {
    if (adopted) return;
    Object.keys(STYLE).forEach((selector) => {
      if (/^\.[\w-]+$/.test(selector) && el.classList.contains(selector.slice(1))) {
        setStyles(el, STYLE[selector]);
      }
    });
  }

  // (Only plain `.class` rules come here: none of them has an !important.)
  function setStyles(el, declarations) {
    Object.keys(declarations).forEach((name) => el.style.setProperty(name, declarations[name], 'important'));
  }

  function findOwnScript() {
    const scripts = document.getElementsByTagName('script');
    for (let i = scripts.length - 1; i >= 0; i -= 1) {
      if (/\/widget\.js([?#].*)?$/.test(scripts[i].src)) return scripts[i];
    }
    return null;
  }
})();
