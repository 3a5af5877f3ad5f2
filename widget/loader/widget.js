/*
 * Messenger widget loader. Host pages embed it with
 *   <script>window.Messenger=window.Messenger||function(){(Messenger.q=Messenger.q||[]).push(arguments)};</script>
 *   <script src="https://HOST/widget.js" async data-site="mws_…"></script>
 * It fetches the site's look and texts (GET HOST/api/v1/sites/KEY/widget),
 * then draws the launcher (and unread badge) in a shadow root and runs the
 * JS API (`Messenger('open')`, events, the queue of calls made before it
 * loaded). Everything needed only once a panel exists (the iframe of
 * HOST/frame/?site=KEY, its postMessage protocol, the stored conversation,
 * tab leadership, the mobile layout) lives in widget-frame.js, fetched from
 * HOST when first needed. Plain ES2019, minified at build
 * (tools/src/minify_loader.rs: no backslash escapes in string literals).
 * Styles only through constructed stylesheets and the CSSOM (CSP-proof).
 */
(() => {
  'use strict';

  const script =
    document.currentScript || [...document.scripts].reverse().find((s) => /\/widget\.js([?#].*)?$/.test(s.src));
  if (!script || !script.src) return;

  const SERVER = new URL(script.src, location.href).origin;
  const KEY = 'messenger:' + SERVER;
  // Included twice (a tag manager and by hand, say): one widget is enough.
  const LOADED = Symbol.for('messenger-widget:' + SERVER);
  if (document[LOADED]) return;
  document[LOADED] = 1;

  const attr = (name) => (script.getAttribute('data-' + name) || '').trim();
  const ENGLISH = {
    'launcher.open': 'Open messages',
    'launcher.close': 'Close messages',
    'launcher.unread_one': '1 unread message',
    'launcher.unread': '{count} unread messages',
  };

  // Calls made before we loaded wait in Messenger.q (the stub); later ones
  // too, until the launcher is drawn.
  const queue = (window.Messenger && window.Messenger.q) || [];
  const stub = function () {
    queue.push(arguments);
  };
  stub.q = queue;
  window.Messenger = stub;

  let language = attr('language');
  queue.forEach((call) => call[0] == 'setLanguage' && (language = call[1]));

  // What widget-frame.js shares with this file.
  const ctx = {
    site: attr('site') || 'default',
    title: attr('title'),
    server: SERVER,
    key: KEY,
    open: false,
    identity: null,
    config: null,
    resume: null,
    setOpen,
    unread: setUnread,
    emit,
    wipe,
    attach: (p) => {
      part = p;
      p.open(ctx.open);
    },
  };
  const listeners = {};
  let part = null; // widget-frame.js, once loaded
  let loading = false;
  let ready = false;
  let unread = 0;
  let host, root, launcher, chatIcon, closeIcon, badge;

  // A resume link's code (#mw-resume=CODE), for the frame's first mw:init
  // only; off the address bar at once, so it is neither bookmarked nor shared.
  const resume = /^#mw-resume=(.+)/.exec(location.hash);
  if (resume) {
    ctx.resume = resume[1];
    history.replaceState(history.state, '', location.pathname + location.search);
  }

  fetchConfig().then(draw, (error) => console.warn('Messenger: not shown (' + error + ')'));

  function fetchConfig() {
    const wanted = [language].concat(navigator.languages || []).filter(Boolean).join(',');
    return fetch(SERVER + '/api/v1/sites/' + encodeURIComponent(ctx.site) + '/widget?lang=' + encodeURIComponent(wanted))
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((config) => {
        // The script tag's overrides, for this page.
        const color = attr('color');
        if (/^#([0-9a-f]{3}){1,2}$/i.test(color)) {
          config.color = color;
          config.text_color = textColor(color);
        }
        if (/^(left|right)$/.test(attr('position'))) config.position = attr('position');
        ['offset-x', 'offset-y', 'z-index'].forEach((name) => {
          if (/^-?[0-9]+$/.test(attr(name))) config[name.replace('-', '_')] = +attr(name);
        });
        return (ctx.config = config);
      });
  }

  function draw(config) {
    const side = config.position == 'left' ? 'left' : 'right';
    host = document.createElement('messenger-widget');
    // Keeps the host element where it belongs whatever the host page's CSS
    // says: inline !important (through the CSSOM) beats the page's rules.
    const hostStyle = {
      all: 'initial',
      position: 'fixed',
      bottom: 0,
      width: 0,
      height: 0,
      display: 'block',
      overflow: 'visible',
      visibility: 'visible',
      opacity: 1,
      transform: 'none',
      filter: 'none',
      'clip-path': 'none',
      contain: 'none',
      'z-index': config.z_index,
    };
    hostStyle[side] = 0;
    Object.keys(hostStyle).forEach((name) => host.style.setProperty(name, hostStyle[name], 'important'));
    root = host.attachShadow({ mode: 'open' });
    ctx.root = root;
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(
      ':host{all:initial}[hidden]{display:none!important}' +
        `.launcher{position:fixed;${side}:${config.offset_x}px;bottom:${config.offset_y}px;display:flex;align-items:center;justify-content:center;width:56px;height:56px;margin:0;padding:0;border:0;border-radius:50%;background:${config.color};color:${config.text_color};box-shadow:0 6px 20px rgba(15,23,42,.28);cursor:pointer}` +
        '.launcher:hover{filter:brightness(.9)}' +
        `.launcher:focus-visible{outline:3px solid ${config.color};outline-offset:3px;box-shadow:0 0 0 3px #fff,0 6px 20px rgba(15,23,42,.28)}` +
        '.icon{width:28px;height:28px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}' +
        `.badge{position:absolute;top:-4px;${side}:-4px;box-sizing:border-box;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#dc2626;color:#fff;box-shadow:0 0 0 2px #fff;font:700 12px/22px system-ui,sans-serif;text-align:center}` +
        '@media (prefers-reduced-motion:no-preference){.launcher{transition:filter .15s,transform .15s}.launcher:hover{transform:scale(1.05)}}',
    );
    root.adoptedStyleSheets = [sheet];

    launcher = element('button', {
      type: 'button',
      class: 'launcher',
      'data-testid': 'launcher',
      'aria-expanded': 'false',
    });
    chatIcon = icon('M21 11.5a8.4 8.4 0 0 1-12.3 7.5L3 21l2-5.4A8.4 8.4 0 1 1 21 11.5z');
    closeIcon = icon('M6 6l12 12M18 6L6 18');
    badge = element('span', { class: 'badge', id: 'mw-unread', role: 'img', 'data-testid': 'unread-badge' });
    launcher.append(chatIcon, closeIcon, badge);
    root.append(launcher);
    show(closeIcon, false);
    show(badge, false);
    label();

    launcher.addEventListener('click', () => setOpen(!ctx.open));
    root.addEventListener('keydown', (event) => {
      if (event.key == 'Escape' && ctx.open) setOpen(false);
    });

    // Single-page apps may replace the body's children, or the body itself:
    // put the widget back (state lives here, so nothing is lost).
    const watch = () => {
      if (!document.body) return;
      if (!host.isConnected) {
        document.body.append(host);
        if (part) part.reattached();
      }
      observer.observe(document.body, { childList: true });
    };
    const observer = new MutationObserver(watch);
    observer.observe(document.documentElement, { childList: true });
    watch();

    // Now the real API: `ready`, then the queued calls in order (a queued
    // on('ready') runs at once: the launcher is drawn).
    const api = function (command, a, b) {
      try {
        run(command, a, b);
      } catch (error) {
        console.warn('Messenger:', error);
      }
    };
    api.q = { push: (call) => api.apply(null, call) };
    window.Messenger = api;
    ready = true;
    emit('ready');
    while (queue.length) api.apply(null, queue.shift());

    // A returning customer's panel loads in the background once the page is
    // done, so the badge shows answers that came while they were away and
    // messages left unsent go out.
    // Another tab started a conversation: follow it, for the badge.
    addEventListener('storage', () => !part && stored() && need());
    if (ctx.resume) setOpen(true);
    else if (stored()) {
      const later = () => (window.requestIdleCallback || setTimeout)(need, { timeout: 5000 });
      if (document.readyState == 'complete') later();
      else addEventListener('load', later, { once: true });
    }
  }

  function run(command, a, b) {
    switch (command) {
      case 'open':
      case 'close':
        setOpen(command == 'open');
        break;
      case 'toggle':
        setOpen(!ctx.open);
        break;
      case 'show':
      case 'hide':
        show(launcher, command == 'show');
        if (command == 'hide') setOpen(false);
        break;
      case 'identify':
        ctx.identity = a && typeof a == 'object' ? a : null;
        if (part) part.identify();
        break;
      case 'reset':
        ctx.identity = null;
        setUnread(0);
        if (part) part.reset();
        else wipe();
        break;
      case 'setLanguage':
        if (a != language) {
          language = a;
          fetchConfig().then(
            () => {
              label();
              if (part) part.config();
            },
            () => {},
          );
        }
        break;
      case 'on':
        (listeners[a] = listeners[a] || []).push(b);
        if (a == 'ready' && ready) call(b);
        break;
      case 'off':
        listeners[a] = (listeners[a] || []).filter((fn) => fn != b);
        break;
      default:
        throw 'unknown command ' + command;
    }
  }

  function emit(name, detail) {
    (listeners[name] || []).slice().forEach((fn) => call(fn, detail));
  }

  // A listener's error is the host page's, reported as such, and stops nothing here.
  function call(fn, detail) {
    try {
      fn(detail);
    } catch (error) {
      setTimeout(() => {
        throw error;
      });
    }
  }

  function setOpen(next) {
    if (next == ctx.open || !launcher) return;
    ctx.open = next;
    const focused = document.activeElement == host;
    show(chatIcon, !next);
    show(closeIcon, next);
    launcher.setAttribute('aria-expanded', next);
    label();
    if (part) part.open(next);
    else if (next) need();
    // Closing from inside the widget hands the focus back to the launcher.
    if (!next && focused) launcher.focus();
    emit(next ? 'open' : 'close');
  }

  function setUnread(count) {
    if (!badge) return;
    badge.textContent = count > 99 ? '99+' : count;
    badge.setAttribute('aria-label', text(count == 1 ? 'launcher.unread_one' : 'launcher.unread').replace('{count}', count));
    if (count > 0) launcher.setAttribute('aria-describedby', 'mw-unread');
    else launcher.removeAttribute('aria-describedby');
    show(badge, count > 0);
    if (count != unread) emit('unread-count-changed', (unread = count));
  }

  function label() {
    launcher.setAttribute('aria-label', text(ctx.open ? 'launcher.close' : 'launcher.open'));
    setUnread(unread);
  }

  function text(key) {
    return (ctx.config.texts || {})[key] || ENGLISH[key];
  }

  // widget-frame.js: the panel, fetched from the server when first needed.
  function need() {
    if (loading) return;
    loading = true;
    document[Symbol.for('messenger-frame:' + SERVER)] = ctx;
    const s = document.createElement('script');
    s.src = SERVER + '/widget-frame.js';
    s.onerror = () => (loading = false); // the next open tries again
    document.head.append(s);
  }

  // This server's keys in the host's localStorage: the conversation entry
  // (KEY) and each unsent message (KEY:outbox:ID).
  function ours(key) {
    return key == KEY || key.startsWith(KEY + ':');
  }

  function stored() {
    try {
      return Object.keys(localStorage).some((k) => ours(k) && (k != KEY || JSON.parse(localStorage[k]).token));
    } catch (e) {}
  }

  function wipe() {
    try {
      Object.keys(localStorage).forEach((k) => ours(k) && localStorage.removeItem(k));
    } catch (e) {}
  }

  // White or near-black text, whichever contrasts more with `color` (WCAG),
  // black when neither reaches 4.5:1: messenger_wire::contrast_text_color.
  function textColor(color) {
    const hex = color.slice(1).replace(/^(.)(.)(.)$/, '$1$1$2$2$3$3');
    const luminance = (h) =>
      [0, 2, 4].reduce((sum, i, k) => {
        const c = parseInt(h.substr(i, 2), 16) / 255;
        return sum + [0.2126, 0.7152, 0.0722][k] * (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
      }, 0);
    const l = luminance(hex);
    const white = 1.05 / (l + 0.05);
    const d = luminance('111827');
    const dark = l > d ? (l + 0.05) / (d + 0.05) : (d + 0.05) / (l + 0.05);
    return Math.max(white, dark) < 4.5 ? '#000000' : white >= dark ? '#ffffff' : '#111827';
  }

  function element(tag, attributes) {
    const el = document.createElement(tag);
    Object.keys(attributes).forEach((name) => el.setAttribute(name, attributes[name]));
    return el;
  }

  function icon(d) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    const path = document.createElementNS(ns, 'path');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', 'icon');
    svg.setAttribute('aria-hidden', 'true');
    path.setAttribute('d', d);
    svg.append(path);
    return svg;
  }

  function show(el, visible) {
    el.toggleAttribute('hidden', !visible);
  }
})();
