/*
 * Messenger widget, the loader's second half: fetched by widget.js from
 * HOST/widget-frame.js the first time a panel is needed (opened, or a stored
 * conversation to follow). It creates the panel, an iframe of
 * HOST/frame/?site=KEY, and speaks the postMessage protocol with it
 * (widget/src/bridge.rs): the conversation token, what was seen and the
 * unsent messages stay in the host's first-party localStorage and reach the
 * frame only by postMessage, never in a URL. Also here: the site's tabs
 * sharing one stream (a Web Lock and a BroadcastChannel, see
 * widget/src/tabs.rs) and the full-screen panel of narrow screens.
 * Plain ES2019, minified at build like widget.js.
 */
(() => {
  'use strict';

  const SERVER = new URL(document.currentScript.src).origin;
  const ctx = document[Symbol.for('messenger-frame:' + SERVER)];
  if (!ctx || ctx.frame) return;

  const STORAGE_KEY = ctx.key;
  const OUTBOX_KEY = STORAGE_KEY + ':outbox:';
  const FRAME_URL = SERVER + '/frame/?site=' + encodeURIComponent(ctx.site);
  const config = () => ctx.config;
  const side = config().position == 'left' ? 'left' : 'right';
  const narrow = matchMedia('(max-width: 480px)');
  const html = document.documentElement.style;
  const viewport = window.visualViewport;

  const sheet = new CSSStyleSheet();
  sheet.replaceSync(
    `.frame{position:fixed;${side}:${config().offset_x}px;bottom:${config().offset_y + 68}px;display:block;width:380px;height:620px;max-width:calc(100vw - 40px);max-height:calc(100vh - 108px);margin:0;padding:0;border:0;border-radius:16px;background:#fff;box-shadow:0 12px 48px rgba(15,23,42,.3);color-scheme:light}` +
      '.frame:focus-visible{outline:3px solid ' + config().color + ';outline-offset:2px}' +
      // Narrow screens: the panel fills the (visual) viewport, clear of notches and home bars.
      '@media (max-width:480px){.frame{inset:0;width:100%;height:100%;max-width:none;max-height:none;border-radius:0;box-sizing:border-box;padding:env(safe-area-inset-top) env(safe-area-inset-right) env(safe-area-inset-bottom) env(safe-area-inset-left)}}',
  );
  ctx.root.adoptedStyleSheets = ctx.root.adoptedStyleSheets.concat(sheet);

  let frame = null;
  let frameReady = false; // the frame has said mw:ready
  let frameToken = null; // the token the frame was given
  let resetting = false; // mw:reset sent, waiting for the frame's mw:token
  let memory = { token: null, seen: 0, outbox: [] }; // when localStorage is unavailable
  let savedOverflow = null; // the host's own inline overflow on <html>, while we hold it
  let leading = false;
  let channel = null;
  try {
    channel = new BroadcastChannel(STORAGE_KEY);
    channel.onmessage = (event) => post({ type: 'mw:shared', data: event.data });
  } catch (e) {
    // Without a channel to share over, every tab leads its own stream.
  }

  window.addEventListener('message', onMessage);
  // Another tab of this site started (or forgot) the conversation: reload the
  // panel so both tabs show the same one.
  window.addEventListener('storage', (event) => {
    if ((event.key || '').startsWith(OUTBOX_KEY)) {
      // Another tab changed the outbox: the leading panel sends it all.
      if (frameReady) post({ type: 'mw:stored', outbox: read().outbox });
      return;
    }
    if (event.key !== STORAGE_KEY && event.key !== null) return;
    const token = read().token;
    if (token !== frameToken) {
      // Another tab reset (a logout): this page's identity goes too, or its
      // panel would sign the previous user in again.
      if (!token) ctx.identity = null;
      reload(token);
    }
  });
  if (viewport) {
    viewport.addEventListener('resize', fit);
    viewport.addEventListener('scroll', fit);
  }

  frame = document.createElement('iframe');
  [
    ['src', FRAME_URL],
    ['title', ctx.title || (config().texts || {})['panel.title'] || 'Messages'],
    ['class', 'frame'],
    ['id', 'mw-frame'],
    ['data-testid', 'messenger-frame'],
    ['allow', 'clipboard-write'],
  ].forEach(([name, value]) => frame.setAttribute(name, value));
  ctx.frame = frame;
  ctx.root.querySelector('.launcher').setAttribute('aria-controls', 'mw-frame');
  ctx.root.append(frame);
  if (channel) lead();
  else leading = true;

  ctx.attach({
    open: setOpen,
    // (A frame not ready yet gets both in its mw:init.)
    identify: () => frameReady && post({ type: 'mw:identify', identity: ctx.identity }),
    config: () => frameReady && post({ type: 'mw:config', config: ctx.config }),
    reset() {
      if (frameReady) {
        resetting = true;
        post({ type: 'mw:reset' });
        // A frame that never answers does not keep the customer stored.
        setTimeout(() => resetting && forget(), 3000);
      } else forget();
    },
    // The host page put our element back: its iframe loads afresh.
    reattached: () => (frameReady = false),
  });

  function setOpen(open) {
    frame.toggleAttribute('hidden', !open);
    if (frameReady) post({ type: 'mw:visibility', open });
    // Full screen on a phone: the host page must not scroll behind the panel.
    // The only host style the widget ever touches: <html>'s inline overflow,
    // put back exactly as it was on close.
    if (open && narrow.matches && !savedOverflow) {
      savedOverflow = [html.getPropertyValue('overflow'), html.getPropertyPriority('overflow')];
      html.setProperty('overflow', 'hidden', 'important');
    } else if (!open && savedOverflow) {
      if (savedOverflow[0]) html.setProperty('overflow', savedOverflow[0], savedOverflow[1]);
      else html.removeProperty('overflow');
      savedOverflow = null;
    }
    fit();
    // The frame puts the cursor in its composer once it is visible.
    if (open) frame.focus();
  }

  // Follows the visual viewport while the full-screen panel is open, so the
  // on-screen keyboard never covers the composer.
  function fit() {
    const style = frame.style;
    if (ctx.open && narrow.matches && viewport) {
      style.setProperty('top', viewport.offsetTop + 'px', 'important');
      style.setProperty('height', viewport.height + 'px', 'important');
    } else {
      style.removeProperty('top');
      style.removeProperty('height');
    }
  }

  // reset, once the frame has let go (or at once without a ready frame):
  // nothing of this customer stays in the host's storage.
  function forget() {
    resetting = false;
    ctx.wipe();
    memory = { token: null, seen: 0, outbox: [] };
    ctx.unread(0);
    reload(null);
  }

  function reload(token) {
    frameToken = token; // what the reloaded frame will be given
    frameReady = false;
    frame.src = FRAME_URL;
  }

  // Only our own frame, at SERVER, is listened to; we post only there.
  function onMessage(event) {
    if (event.origin !== SERVER || event.source !== frame.contentWindow) return;
    const data = event.data;
    // A frame being reloaded speaks for a conversation no longer stored.
    if (!data || typeof data !== 'object' || (!frameReady && data.type !== 'mw:ready')) return;
    const state = read();
    // Token and seen change only for the conversation the frame was given.
    const current = data.of === state.token;
    switch (data.type) {
      case 'mw:ready':
        frameReady = true;
        frameToken = state.token;
        post({
          type: 'mw:init',
          token: state.token,
          seen: state.seen,
          outbox: state.outbox,
          title: frame.title,
          open: ctx.open,
          lead: leading,
          resume: ctx.resume,
          page: location.href,
          site: ctx.site,
          config: ctx.config,
          identity: ctx.identity,
        });
        ctx.resume = null;
        break;
      case 'mw:token':
        if (resetting && data.token === null) forget();
        else if (current && (data.token === null || isToken(data.token))) {
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
        if (isCount(data.count)) ctx.unread(data.count);
        break;
      case 'mw:close':
        ctx.setOpen(false);
        break;
      case 'mw:share':
        if (channel && typeof data.data === 'string') channel.postMessage(data.data);
        break;
      case 'mw:event':
        if (data.name === 'message-received') ctx.emit(data.name, data.detail);
        break;
      case 'mw:identified':
        if (!data.ok) console.warn('Messenger: identify refused (' + data.error + ')');
        break;
    }
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

  function post(message) {
    if (frame.contentWindow) frame.contentWindow.postMessage(message, SERVER);
  }

  // Storage, in the host's first-party localStorage (token and seen in memory
  // where that is blocked): {"token": string|null, "seen": number} at
  // STORAGE_KEY, and each unsent message at OUTBOX_KEY + its id, so tabs
  // writing at the same moment never undo each other's entries. The frame
  // checks every entry itself.
  function read() {
    try {
      const parsed = parse(localStorage.getItem(STORAGE_KEY)) || {};
      const outbox = Object.keys(localStorage)
        .filter((key) => key.startsWith(OUTBOX_KEY))
        .map((key) => parse(localStorage.getItem(key)));
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
      localStorage.setItem(STORAGE_KEY, JSON.stringify({ token: state.token, seen: state.seen }));
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
})();
