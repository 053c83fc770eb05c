// muse web UI: the Contemplating view. One lane per agent fills live from the stream's
// `muse` events; then the vote (tally bars) and the final answer.
//
// Events (chunks whose `choices` is empty and that carry `muse`):
//   {event:"agent_started", agent}
//   {event:"token", agent, text, confidence}
//   {event:"agent_stopped", agent, reason, confidence}
//   {event:"agent_finished", agent, answer|null, confidence}
//   {event:"vote", answer, share, tally:[{answer, weight, votes}]}
//   {event:"final", answer, share}
(function (global) {
  'use strict';

  const TEXT_TAIL = 1200;  // characters of an agent's text kept for its lane
  const SPARK_POINTS = 96; // confidence history points per lane
  const SVG_NS = 'http://www.w3.org/2000/svg';

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const fmtConf = (c) => (typeof c === 'number' && isFinite(c) ? c.toFixed(2) : '—');
  const pct = (x) => (typeof x === 'number' && isFinite(x) ? Math.round(x * 100) + '%' : '');

  class ContemplateView {
    // `parent` receives the view; `onChange` is called after the DOM changed (for scrolling).
    constructor(parent, expectedAgents, onChange) {
      this.onChange = onChange || (() => {});
      this.expected = expectedAgents || 0;
      this.lanes = new Map();
      this.dirty = new Set();
      this.frame = 0;
      this.finalAnswer = null;
      this.ended = false;

      this.root = el('details', 'contemplate');
      this.root.open = true;
      this.root.dataset.testid = 'contemplate';
      const summary = el('summary');
      this.title = el('span', 'c-title', 'Contemplating');
      this.summary = el('span', 'c-summary', this.expected ? this.expected + ' agents starting…' : 'starting…');
      summary.append(this.title, this.summary);
      const inner = el('div', 'c-inner');
      this.lanesEl = el('div', 'lanes');
      this.voteEl = el('div', 'vote');
      this.voteEl.hidden = true;
      this.finalEl = el('div', 'final-answer');
      this.finalEl.hidden = true;
      inner.append(this.lanesEl, this.voteEl, this.finalEl);
      this.root.append(summary, inner);
      parent.append(this.root);
    }

    lane(i) {
      let lane = this.lanes.get(i);
      if (lane) return lane;
      const root = el('div', 'lane');
      root.dataset.agent = String(i);
      root.dataset.status = 'running';
      const head = el('div', 'lane-head');
      const name = el('span', 'lane-name', 'Agent ' + i);
      const badge = el('span', 'lane-badge', 'running');
      const conf = el('span', 'lane-conf', 'conf —');
      conf.title = 'group confidence (higher = more confident)';
      head.append(name, badge);
      const svg = document.createElementNS(SVG_NS, 'svg');
      svg.setAttribute('class', 'spark');
      svg.setAttribute('viewBox', '0 0 100 20');
      svg.setAttribute('preserveAspectRatio', 'none');
      const line = document.createElementNS(SVG_NS, 'polyline');
      svg.append(line);
      const text = el('div', 'lane-text');
      const foot = el('div', 'lane-foot');
      const tokens = el('span', 'lane-tokens', '0 tokens');
      const answer = el('span', 'lane-answer');
      const stats = el('span', 'lane-stats');
      stats.append(tokens, document.createTextNode(' · '), conf);
      foot.append(stats, answer);
      root.append(head, svg, text, foot);
      // Keep lanes in agent order even when events arrive out of order.
      const after = [...this.lanes.keys()].filter((k) => k > i).sort((a, b) => a - b)[0];
      this.lanesEl.insertBefore(root, after === undefined ? null : this.lanes.get(after).root);
      lane = { root, badge, conf, line, text, tokens, answer, buf: '', count: 0, confs: [], last: null };
      this.lanes.set(i, lane);
      return lane;
    }

    handle(ev) {
      if (!ev || typeof ev !== 'object') return;
      const hasAgent = Number.isInteger(ev.agent) && ev.agent >= 0;
      const lane = hasAgent ? this.lane(ev.agent) : null;
      if (lane && typeof ev.confidence === 'number') {
        lane.last = ev.confidence;
        if (ev.event === 'token') {
          lane.confs.push(ev.confidence);
          if (lane.confs.length > SPARK_POINTS) lane.confs.shift();
        }
      }
      switch (ev.event) {
        case 'agent_started':
          break;
        case 'token':
          if (!lane) return;
          lane.buf = (lane.buf + (ev.text || '')).slice(-TEXT_TAIL);
          lane.count++;
          break;
        case 'agent_stopped':
          if (!lane) return;
          this.setStatus(lane, 'stopped', 'stopped · ' + (ev.reason || 'early'));
          lane.root.dataset.reason = ev.reason || '';
          break;
        case 'agent_finished':
          if (!lane) return;
          this.setStatus(lane, 'finished', ev.answer == null ? 'finished · no answer' : 'finished');
          lane.answer.textContent = ev.answer == null ? 'no answer' : '→ ' + ev.answer;
          lane.root.dataset.answer = ev.answer == null ? '' : String(ev.answer);
          break;
        case 'vote':
          this.renderVote(ev);
          break;
        case 'final':
          this.renderFinal(ev);
          break;
        default:
          return;
      }
      if (lane) this.dirty.add(lane);
      this.updateSummary();
      this.schedule();
    }

    setStatus(lane, status, label) {
      lane.root.dataset.status = status;
      lane.badge.textContent = label;
      lane.badge.title = label;
    }

    schedule() {
      if (this.frame) return;
      this.frame = requestAnimationFrame(() => this.flush());
    }

    flush() {
      if (this.frame) cancelAnimationFrame(this.frame);
      this.frame = 0;
      // One confidence scale for all lanes, so their sparklines compare.
      let lo = Infinity, hi = -Infinity;
      for (const l of this.lanes.values()) for (const c of l.confs) { if (c < lo) lo = c; if (c > hi) hi = c; }
      const span = hi - lo || 1;
      for (const l of this.lanes.values()) {
        if (l.confs.length > 1) {
          const n = l.confs.length - 1;
          l.line.setAttribute('points', l.confs.map((c, k) =>
            ((k / n) * 100).toFixed(1) + ',' + (19 - ((c - lo) / span) * 18).toFixed(1)).join(' '));
        }
      }
      for (const l of this.dirty) {
        l.text.textContent = l.buf;
        l.text.scrollTop = l.text.scrollHeight;
        l.tokens.textContent = l.count + (l.count === 1 ? ' token' : ' tokens');
        l.conf.textContent = 'conf ' + fmtConf(l.last);
      }
      this.dirty.clear();
      this.onChange();
    }

    updateSummary() {
      let running = 0, finished = 0, stopped = 0;
      for (const l of this.lanes.values()) {
        const s = l.root.dataset.status;
        if (s === 'running') running++; else if (s === 'finished') finished++; else stopped++;
      }
      const n = Math.max(this.expected, this.lanes.size);
      const parts = [n + (n === 1 ? ' agent' : ' agents')];
      if (running) parts.push(running + ' running');
      if (finished) parts.push(finished + ' finished');
      if (stopped) parts.push(stopped + ' stopped');
      // Agents start a few at a time; a vote decided early leaves the rest unstarted.
      if (this.ended && n > this.lanes.size) parts.push((n - this.lanes.size) + ' not started');
      if (this.finalAnswer !== null) parts.push('answer ' + this.finalAnswer);
      this.summary.textContent = parts.join(' · ');
    }

    renderVote(ev) {
      const tally = Array.isArray(ev.tally) ? ev.tally.slice() : [];
      tally.sort((a, b) => (b.weight || 0) - (a.weight || 0));
      const total = tally.reduce((s, t) => s + (t.weight > 0 ? t.weight : 0), 0) || 1;
      this.voteEl.replaceChildren(el('h4', null, 'Vote' + (ev.answer != null ? ' · leader ' + ev.answer + ' (' + pct(ev.share) + ')' : '')));
      for (const t of tally) {
        const row = el('div', 'tally-row');
        if (ev.answer != null && String(t.answer) === String(ev.answer)) row.classList.add('leader');
        const bar = el('div', 'tally-bar');
        const fill = el('div', 'tally-fill');
        fill.style.width = Math.max(2, ((t.weight > 0 ? t.weight : 0) / total) * 100).toFixed(1) + '%';
        bar.append(fill);
        const votes = t.votes | 0;
        row.append(el('span', 'tally-answer', String(t.answer)), bar,
          el('span', 'tally-info', votes + (votes === 1 ? ' vote' : ' votes') + ' · ' +
            (typeof t.weight === 'number' ? t.weight.toFixed(2) : '—')));
        row.dataset.answer = String(t.answer);
        this.voteEl.append(row);
      }
      this.voteEl.hidden = false;
    }

    renderFinal(ev) {
      this.ended = true;
      this.finalAnswer = ev.answer == null || ev.answer === '' ? null : String(ev.answer);
      this.finalEl.replaceChildren(
        el('span', 'fa-label', 'Final answer'),
        el('span', 'fa-value', this.finalAnswer === null ? 'no answer' : this.finalAnswer),
        el('span', 'fa-share', typeof ev.share === 'number' ? pct(ev.share) + ' of the weighted vote' : ''));
      this.finalEl.dataset.answer = this.finalAnswer === null ? '' : this.finalAnswer;
      // The newest final answer carries the id; older messages keep the class only.
      const prev = document.getElementById('final-answer');
      if (prev && prev !== this.finalEl) prev.removeAttribute('id');
      this.finalEl.id = 'final-answer';
      this.finalEl.hidden = false;
    }

    // The stream ended (or was stopped): lanes still running are marked.
    end(stopped) {
      this.ended = true;
      for (const l of this.lanes.values()) {
        if (l.root.dataset.status === 'running') {
          this.setStatus(l, 'stopped', stopped ? 'stopped · cancelled' : 'ended');
          l.root.dataset.reason = stopped ? 'cancelled' : 'ended';
          this.dirty.add(l);
        }
      }
      this.updateSummary();
      this.flush();
    }
  }

  global.ContemplateView = ContemplateView;
})(window);
