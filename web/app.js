// muse web UI: chat over the OpenAI-compatible API of `muse serve`.
// Streams POST /v1/chat/completions (Server-Sent Events), renders Markdown as it arrives,
// shows reasoning in a collapsible block and Contemplating's agents in live lanes.
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const { render: renderMarkdown } = window.MuseMarkdown;

  const ui = {
    messages: $('messages'), empty: $('empty'), composer: $('composer'), prompt: $('prompt'),
    send: $('send'), stop: $('stop'), newChat: $('new-chat'), modelName: $('model-name'),
    modelSelect: $('model-select'), statusDot: $('status-dot'), effortChip: $('effort-chip'),
    settings: $('settings'), settingsToggle: $('settings-toggle'), settingsClose: $('settings-close'),
    settingsReset: $('settings-reset'), agentsField: $('agents-field'),
  };

  // ---- Parameters ---------------------------------------------------------------------
  const FIELDS = {
    effort: $('effort'), agents: $('agents'), system: $('system-prompt'), temperature: $('temperature'),
    top_p: $('top-p'), max_tokens: $('max-tokens'), seed: $('seed'),
  };
  const DEFAULTS = { effort: 'default', agents: '4', system: '', temperature: '', top_p: '', max_tokens: '', seed: '' };
  const STORE = 'muse.settings.v1';

  function loadSettings() {
    let saved = {};
    try { saved = JSON.parse(localStorage.getItem(STORE) || '{}') || {}; } catch (e) { saved = {}; }
    for (const [k, input] of Object.entries(FIELDS)) {
      const v = saved[k] !== undefined ? String(saved[k]) : DEFAULTS[k];
      input.value = v;
      if (input.tagName === 'SELECT' && input.value !== v) input.value = DEFAULTS[k];
    }
    syncEffort();
  }
  function saveSettings() {
    const out = {};
    for (const [k, input] of Object.entries(FIELDS)) out[k] = input.value;
    try { localStorage.setItem(STORE, JSON.stringify(out)); } catch (e) { /* private mode */ }
  }
  function syncEffort() {
    const effort = FIELDS.effort.value;
    ui.agentsField.hidden = effort !== 'contemplating';
    ui.effortChip.textContent = effort === 'contemplating' ? 'contemplating ×' + agentCount()
      : effort === 'default' ? 'default' : effort;
  }
  function agentCount() {
    const n = parseInt(FIELDS.agents.value, 10);
    return Number.isFinite(n) ? Math.min(64, Math.max(1, n)) : 4;
  }
  const num = (input, parse) => {
    const s = input.value.trim();
    if (s === '') return undefined;
    const v = parse(s);
    return Number.isFinite(v) ? v : undefined;
  };

  function setSettingsOpen(open) {
    ui.settings.hidden = !open;
    ui.settingsToggle.setAttribute('aria-expanded', String(open));
    try { localStorage.setItem('muse.settings.open', open ? '1' : '0'); } catch (e) { /* ignore */ }
  }

  // ---- Models -------------------------------------------------------------------------
  let model = '';
  async function loadModels() {
    try {
      const res = await fetch('v1/models', { headers: { Accept: 'application/json' } });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const body = await res.json();
      const ids = (body && Array.isArray(body.data) ? body.data : []).map((m) => m && m.id).filter(Boolean);
      if (!ids.length) throw new Error('no model loaded');
      model = ids[0];
      ui.modelName.textContent = model;
      ui.modelName.title = model;
      if (ids.length > 1) {
        ui.modelSelect.replaceChildren(...ids.map((id) => new Option(id, id)));
        ui.modelSelect.hidden = false;
        ui.modelName.hidden = true;
      }
      ui.statusDot.dataset.state = 'ok';
    } catch (e) {
      ui.modelName.textContent = 'server unreachable (' + e.message + ')';
      ui.statusDot.dataset.state = 'error';
    }
  }

  // ---- Messages -----------------------------------------------------------------------
  let history = []; // [{role, content}] sent as `messages` (system prompt added per request)

  function isNearBottom() {
    const m = ui.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 120;
  }
  let stickToBottom = true;
  ui.messages.addEventListener('scroll', () => { stickToBottom = isNearBottom(); });
  function follow() { if (stickToBottom) ui.messages.scrollTop = ui.messages.scrollHeight; }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function addUserMessage(text) {
    ui.empty.hidden = true;
    const msg = el('div', 'msg user');
    msg.append(el('div', 'bubble', text));
    ui.messages.append(msg);
    stickToBottom = true;
    follow();
    return msg;
  }

  // Splits "<think>…</think>answer" when a server sends reasoning inside the content.
  function splitThink(raw) {
    const lead = raw.match(/^\s*<think>/);
    if (!lead) return { reasoning: '', answer: raw };
    const rest = raw.slice(lead[0].length);
    const end = rest.indexOf('</think>');
    return end < 0 ? { reasoning: rest, answer: '', open: true }
      : { reasoning: rest.slice(0, end), answer: rest.slice(end + 8).replace(/^\s+/, '') };
  }

  class AssistantMessage {
    constructor(agents) {
      ui.empty.hidden = true;
      this.root = el('div', 'msg assistant');
      this.root.dataset.state = 'streaming';
      this.root.append(el('div', 'role', 'muse'));
      this.body = el('div', 'msg-body');
      this.content = el('div', 'content waiting');
      this.content.dataset.testid = 'assistant-content';
      this.meta = el('div', 'meta');
      this.body.append(this.content);
      this.root.append(this.body, this.meta);
      ui.messages.append(this.root);
      this.agents = agents;
      this.reasoning = '';
      this.raw = '';
      this.thinking = null;
      this.contemplate = null;
      this.frame = 0;
      this.t0 = performance.now();
      this.tFirst = 0;
      this.finish = null;
      this.usage = null;
      follow();
    }

    mark() { if (!this.tFirst) this.tFirst = performance.now(); }
    addReasoning(text) { this.mark(); this.reasoning += text; this.schedule(); }
    addContent(text) { this.mark(); this.raw += text; this.schedule(); }
    museEvent(ev) {
      if (ev.event === 'result' && !this.contemplate) return;  // a report with no lanes
      this.mark();
      if (!this.contemplate) {
        this.contemplate = new window.ContemplateView(document.createElement('div'), this.agents, follow);
        this.body.insertBefore(this.contemplate.root, this.thinking ? this.thinking.root : this.content);
        this.content.classList.remove('waiting');
      }
      this.contemplate.handle(ev);
    }

    get answer() { return splitThink(this.raw).answer; }

    ensureThinking() {
      if (this.thinking) return this.thinking;
      const root = el('details', 'thinking active');
      root.open = true;
      root.dataset.testid = 'thinking';
      const summary = el('summary');
      const label = el('span', 'label', 'Thinking');
      summary.append(label);
      const bodyEl = el('div', 'thinking-body');
      root.append(summary, bodyEl);
      this.body.insertBefore(root, this.content);
      this.thinking = { root, label, body: bodyEl, collapsed: false };
      return this.thinking;
    }

    schedule() {
      if (this.frame) return;
      this.frame = requestAnimationFrame(() => this.flush());
    }

    flush() {
      if (this.frame) cancelAnimationFrame(this.frame);
      this.frame = 0;
      const parts = splitThink(this.raw);
      const reasoning = this.reasoning + parts.reasoning;
      if (reasoning) {
        const t = this.ensureThinking();
        const pinned = t.body.scrollHeight - t.body.scrollTop - t.body.clientHeight < 40;
        t.body.innerHTML = renderMarkdown(reasoning);
        if (pinned) t.body.scrollTop = t.body.scrollHeight;
        // Open while thinking; collapse once, when the answer starts.
        if (parts.answer && !t.collapsed) {
          t.collapsed = true;
          t.root.open = false;
          t.root.classList.remove('active');
          const secs = ((performance.now() - (this.tFirst || this.t0)) / 1000).toFixed(1);
          t.label.textContent = 'Thought for ' + secs + ' s';
        }
      }
      this.content.innerHTML = renderMarkdown(parts.answer);
      this.content.classList.toggle('waiting', !parts.answer && !reasoning && !this.contemplate);
      follow();
    }

    finalizeThinking() {
      if (this.thinking && !this.thinking.collapsed) {
        this.thinking.root.classList.remove('active');
        this.thinking.label.textContent = 'Thinking';
        if (this.answer) this.thinking.root.open = false;
      }
    }

    done(stopped) {
      this.flush();
      this.finalizeThinking();
      if (this.contemplate) this.contemplate.end(stopped);
      this.content.classList.remove('waiting');
      this.root.dataset.state = 'done';
      this.root.dataset.finish = stopped ? 'stopped' : this.finish || 'stop';
      const tEnd = performance.now();
      const items = [];
      if (stopped) items.push(badge('stopped', 'warn'));
      else if (this.finish === 'length') items.push(badge('max tokens reached', 'warn'));
      const u = this.usage;
      if (u && typeof u.completion_tokens === 'number') {
        const secs = (tEnd - (this.tFirst || this.t0)) / 1000;
        const usage = el('span', 'usage', u.completion_tokens + ' tokens');
        usage.dataset.testid = 'usage';
        usage.title = 'prompt ' + (u.prompt_tokens ?? '?') + ' · completion ' + u.completion_tokens +
          ' · total ' + (u.total_tokens ?? '?');
        items.push(usage);
        if (secs > 0 && u.completion_tokens > 0) items.push(el('span', 'rate', (u.completion_tokens / secs).toFixed(1) + ' tok/s'));
        if (typeof u.prompt_tokens === 'number') items.push(el('span', null, 'prompt ' + u.prompt_tokens));
      }
      items.push(el('span', 'elapsed', ((tEnd - this.t0) / 1000).toFixed(1) + ' s'));
      if (this.tFirst) items.push(el('span', null, 'first token ' + ((this.tFirst - this.t0) / 1000).toFixed(2) + ' s'));
      this.meta.replaceChildren(...items);
      follow();
    }

    fail(err, retry) {
      this.flush();
      this.finalizeThinking();
      if (this.contemplate) this.contemplate.end(true);
      this.content.classList.remove('waiting');
      this.root.dataset.state = 'error';
      const box = el('div', 'error-box');
      box.setAttribute('role', 'alert');
      box.dataset.testid = 'error';
      box.append(el('strong', null, 'Error:'), document.createTextNode(err.message || String(err)));
      const code = [err.type, err.code].filter((x) => x !== undefined && x !== null && x !== '').join(' · ');
      if (code) box.append(document.createTextNode(' '), el('span', 'code', '(' + code + ')'));
      this.body.append(box);
      const items = [];
      if (retry) {
        const b = el('button', 'ghost', 'Retry');
        b.type = 'button';
        b.addEventListener('click', retry);
        items.push(b);
      }
      this.meta.replaceChildren(...items);
      follow();
    }
  }

  function badge(text, cls) { return el('span', 'badge' + (cls ? ' ' + cls : ''), text); }

  class ApiError extends Error {
    constructor(e, status) {
      super((e && e.message) || (status ? 'HTTP ' + status : 'unknown error'));
      this.type = e && e.type;
      this.code = e && e.code != null ? e.code : status ? 'HTTP ' + status : undefined;
    }
  }

  async function httpError(res) {
    let body = null;
    const text = await res.text().catch(() => '');
    try { body = JSON.parse(text); } catch (e) { body = null; }
    if (body && body.error) return new ApiError(typeof body.error === 'string' ? { message: body.error } : body.error, res.status);
    return new ApiError({ message: 'HTTP ' + res.status + (text ? ': ' + text.slice(0, 300) : '') }, res.status);
  }

  // Yields the data of each Server-Sent Event (multi-line data joined by "\n").
  async function* sseData(res) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    let data = [];
    try {
      for (;;) {
        const { value, done } = await reader.read();
        buf += done ? decoder.decode() : decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          if (line === '') {
            if (data.length) yield data.join('\n');
            data = [];
          } else if (line.startsWith('data:')) {
            data.push(line.slice(line[5] === ' ' ? 6 : 5));
          } // comments (":") and other fields are ignored
        }
        if (done) break;
      }
      if (buf.startsWith('data:')) data.push(buf.slice(buf[5] === ' ' ? 6 : 5));
      if (data.length) yield data.join('\n');
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  // ---- Sending ------------------------------------------------------------------------
  let controller = null;

  function buildRequest() {
    const effort = FIELDS.effort.value;
    const messages = [];
    const system = FIELDS.system.value.trim();
    if (system) messages.push({ role: 'system', content: system });
    messages.push(...history);
    const req = {
      model: ui.modelSelect.hidden ? model : ui.modelSelect.value,
      messages,
      stream: true,
      stream_options: { include_usage: true },
    };
    // "default" sends no effort: plain generation as the model was trained to answer.
    if (effort !== 'default') req.reasoning_effort = effort;
    const temperature = num(FIELDS.temperature, parseFloat);
    const topP = num(FIELDS.top_p, parseFloat);
    const maxTokens = num(FIELDS.max_tokens, (s) => parseInt(s, 10));
    const seed = num(FIELDS.seed, (s) => parseInt(s, 10));
    if (temperature !== undefined) req.temperature = temperature;
    if (topP !== undefined) req.top_p = topP;
    if (maxTokens !== undefined && maxTokens > 0) req.max_tokens = maxTokens;
    if (seed !== undefined) req.seed = seed;
    if (effort === 'contemplating') req.contemplate = { agents: agentCount() };
    if (!req.model) delete req.model;
    return req;
  }

  function setBusy(busy) {
    ui.send.hidden = busy;
    ui.stop.hidden = !busy;
    ui.send.disabled = busy;
    ui.newChat.disabled = busy;
  }

  async function send(text) {
    if (controller) return;
    text = (text ?? ui.prompt.value).trim();
    if (!text) return;
    ui.prompt.value = '';
    autosize();
    const userMsg = addUserMessage(text);
    history.push({ role: 'user', content: text });
    const req = buildRequest();
    const view = new AssistantMessage(req.contemplate ? req.contemplate.agents : 0);
    controller = new AbortController();
    setBusy(true);
    let stopped = false;
    let sawDone = false;
    try {
      const res = await fetch('v1/chat/completions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
        body: JSON.stringify(req),
        signal: controller.signal,
      });
      if (!res.ok) throw await httpError(res);
      if (!(res.headers.get('content-type') || '').includes('text/event-stream')) {
        // A server that ignored "stream": a whole chat.completion object.
        const body = await res.json();
        if (body.error) throw new ApiError(body.error);
        const choice = body.choices && body.choices[0];
        const msg = (choice && choice.message) || {};
        if (msg.reasoning_content) view.addReasoning(msg.reasoning_content);
        view.addContent(msg.content || '');
        view.finish = choice && choice.finish_reason;
        view.usage = body.usage || null;
        sawDone = true;
      } else {
        for await (const data of sseData(res)) {
          if (data === '[DONE]') { sawDone = true; break; }
          let chunk;
          try { chunk = JSON.parse(data); } catch (e) { continue; }
          if (chunk.error) throw new ApiError(chunk.error);
          if (chunk.muse) view.museEvent(chunk.muse);
          for (const choice of chunk.choices || []) {
            if (choice.index) continue;
            const d = choice.delta || {};
            if (typeof d.reasoning_content === 'string' && d.reasoning_content) view.addReasoning(d.reasoning_content);
            if (typeof d.content === 'string' && d.content) view.addContent(d.content);
            if (choice.finish_reason) view.finish = choice.finish_reason;
          }
          if (chunk.usage) view.usage = chunk.usage;
        }
      }
      if (!sawDone && !view.raw && !view.finish) throw new ApiError({ message: 'the stream ended before any answer' });
    } catch (err) {
      if (err && err.name === 'AbortError') {
        stopped = true;
      } else {
        controller = null;
        setBusy(false);
        // The turn failed: it leaves the history, so the conversation stays well-formed.
        if (history.length && history[history.length - 1].content === text) history.pop();
        userMsg.classList.add('unsent');
        const detail = (err && err.message) || String(err);
        const e = err instanceof ApiError ? err : new ApiError({
          message: err && err.name === 'TypeError' && /fetch|network/i.test(detail)
            ? 'could not reach the server (' + detail + ')' : detail,
        });
        view.fail(e, () => { view.root.remove(); userMsg.remove(); send(text); });
        ui.prompt.focus();
        return;
      }
    }
    controller = null;
    setBusy(false);
    view.done(stopped);
    const answer = view.answer;
    if (answer) history.push({ role: 'assistant', content: answer });
    else if (history.length && history[history.length - 1].role === 'user') {
      history.pop(); // nothing came back: the turn is not part of the conversation
      userMsg.classList.add('unsent');
    }
    ui.prompt.focus();
  }

  function stop() { if (controller) controller.abort(); }

  function newChat() {
    if (controller) return;
    history = [];
    for (const m of [...ui.messages.querySelectorAll('.msg')]) m.remove();
    ui.empty.hidden = false;
    ui.prompt.focus();
  }

  // ---- Composer -----------------------------------------------------------------------
  function autosize() {
    ui.prompt.style.height = 'auto';
    ui.prompt.style.height = Math.min(ui.prompt.scrollHeight, window.innerHeight * 0.4) + 'px';
  }

  ui.composer.addEventListener('submit', (e) => { e.preventDefault(); send(); });
  ui.prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      send();
    }
  });
  ui.prompt.addEventListener('input', autosize);
  ui.stop.addEventListener('click', stop);
  ui.newChat.addEventListener('click', newChat);
  ui.effortChip.addEventListener('click', () => { setSettingsOpen(true); FIELDS.effort.focus(); });
  ui.settingsToggle.addEventListener('click', () => setSettingsOpen(ui.settings.hidden));
  ui.settingsClose.addEventListener('click', () => setSettingsOpen(false));
  ui.settingsReset.addEventListener('click', () => {
    for (const [k, input] of Object.entries(FIELDS)) input.value = DEFAULTS[k];
    syncEffort();
    saveSettings();
  });
  for (const input of Object.values(FIELDS)) {
    input.addEventListener('input', () => { syncEffort(); saveSettings(); });
    input.addEventListener('change', () => { syncEffort(); saveSettings(); });
  }
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && controller) stop();
  });

  // Copy buttons of code blocks (rendered by markdown.js).
  ui.messages.addEventListener('click', async (e) => {
    const btn = e.target.closest('.code-copy');
    if (!btn) return;
    const code = btn.closest('.code-block').querySelector('code');
    try {
      await navigator.clipboard.writeText(code.textContent);
      btn.textContent = 'Copied';
    } catch (err) {
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      btn.textContent = 'Selected';
    }
    setTimeout(() => { btn.textContent = 'Copy'; }, 1200);
  });

  // ---- Start --------------------------------------------------------------------------
  loadSettings();
  let open = null;
  try { open = localStorage.getItem('muse.settings.open'); } catch (e) { open = null; }
  setSettingsOpen(open === null ? window.innerWidth > 1100 : open === '1');
  loadModels();
  ui.prompt.focus();
})();
