// muse web UI: a small, safe Markdown renderer.
//
// Safety rule: the source is HTML-escaped before anything else, so the only tags in the
// output are the ones built here, and the only attribute that carries source text is a
// link's href, which must be an http(s) URL made of escaped characters.
//
// Supported: ATX headings, paragraphs (single newlines become <br>), **bold**, *italic*,
// ~~strike~~, `inline code`, fenced code blocks (``` or ~~~, with a language), ordered and
// unordered lists (nested by indentation), block quotes, horizontal rules, GFM tables,
// [links](https://...) and bare http(s) URLs. An unclosed fence renders as code up to the
// end, so text can be re-rendered while it streams in.
(function (global) {
  'use strict';

  const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ESC[c]);

  const MAX_DEPTH = 8; // nesting of quotes and lists; deeper input renders as plain text
  // A URL inside escaped text: any non-space character except '&' unless it is '&amp;'
  // (so '&quot;', '&lt;', '&#39;' end the URL).
  // Inside [label](url) the URL also stops at ')'.
  const LINK_RE = /\[([^\]\n]+)\]\((https?:\/\/(?:[^\s&<>"'()\u0000]|&amp;)+)\)/gi;
  const AUTOLINK_RE = /\bhttps?:\/\/(?:[^\s&<>"'\u0000]|&amp;)+/gi;

  const FENCE_RE = /^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)/;
  const HEADING_RE = /^ {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$/;
  const HR_RE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
  const QUOTE_RE = /^ {0,3}>/;
  const ITEM_RE = /^( *)([-*+]|\d{1,9}[.)])(?:\s+(.*))?$/;
  const TABLE_SEP_RE = /^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$/;

  function link(url, labelHtml) {
    return '<a href="' + url + '" target="_blank" rel="noopener noreferrer">' + labelHtml + '</a>';
  }

  function emphasis(s) {
    return s
      .replace(/\*\*\*(?=\S)([^*]*?\S)\*\*\*/g, '<strong><em>$1</em></strong>')
      .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>')
      .replace(/(^|[^\w])__(?=\S)([\s\S]*?\S)__(?!\w)/g, '$1<strong>$2</strong>')
      .replace(/(^|[^*\w])\*(?=[^\s*])([^*]*?[^\s*])\*(?!\*)/g, '$1<em>$2</em>')
      .replace(/(^|[^\w])_(?=[^\s_])([^_]*?[^\s_])_(?!\w)/g, '$1<em>$2</em>')
      .replace(/~~(?=\S)([^~]*?\S)~~/g, '<del>$1</del>');
  }

  // Inline markup of one block's text (raw, not yet escaped).
  function inline(raw) {
    const slots = [];
    const keep = (html) => '\u0000' + (slots.push(html) - 1) + '\u0000';
    let s = escapeHtml(raw);
    s = s.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (m, ticks, code) => {
      if (/^ [\s\S]* $/.test(code) && code.trim()) code = code.slice(1, -1);
      return keep('<code>' + code + '</code>');
    });
    s = s.replace(LINK_RE, (m, label, url) => keep(link(url, emphasis(label))));
    s = s.replace(AUTOLINK_RE, (m) => {
      const trail = /[.,:;!?)\]]+$/.exec(m);
      const url = trail ? m.slice(0, -trail[0].length) : m;
      return keep(link(url, url)) + (trail ? trail[0] : '');
    });
    s = emphasis(s).replace(/\n/g, '<br>');
    // Slots may contain slots (code inside a link label): restore until none are left.
    for (let i = 0; i < 3 && s.includes('\u0000'); i++) {
      s = s.replace(/\u0000(\d+)\u0000/g, (m, n) => slots[Number(n)]);
    }
    return s;
  }

  const indentOf = (line) => /^ */.exec(line)[0].length;
  const isBlank = (line) => /^\s*$/.test(line);

  function startsBlock(lines, i) {
    const line = lines[i];
    return FENCE_RE.test(line) || HEADING_RE.test(line) || HR_RE.test(line) ||
      QUOTE_RE.test(line) || (ITEM_RE.test(line) && !isBlank(line.replace(ITEM_RE, '$3'))) ||
      isTableStart(lines, i);
  }

  function isTableStart(lines, i) {
    return i + 1 < lines.length && lines[i].includes('|') && lines[i + 1].includes('|') &&
      lines[i + 1].includes('-') && TABLE_SEP_RE.test(lines[i + 1]);
  }

  function splitRow(line) {
    let s = line.trim();
    if (s.startsWith('|')) s = s.slice(1);
    if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
    return s.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
  }

  function table(lines, i, out) {
    const head = splitRow(lines[i]);
    const align = splitRow(lines[i + 1]).map((c) =>
      /^:-+:$/.test(c) ? ' class="al-c"' : /^-+:$/.test(c) ? ' class="al-r"' : '');
    const cell = (tag, text, k) => '<' + tag + (align[k] || '') + '>' + inline(text) + '</' + tag + '>';
    let html = '<div class="table-wrap"><table><thead><tr>' +
      head.map((c, k) => cell('th', c, k)).join('') + '</tr></thead><tbody>';
    i += 2;
    while (i < lines.length && !isBlank(lines[i]) && lines[i].includes('|')) {
      const row = splitRow(lines[i++]);
      html += '<tr>' + head.map((_, k) => cell('td', row[k] || '', k)).join('') + '</tr>';
    }
    out.push(html + '</tbody></table></div>');
    return i;
  }

  function fence(lines, i, out) {
    const m = FENCE_RE.exec(lines[i]);
    const pad = m[1].length, mark = m[2];
    const lang = m[3].replace(/[^\w+#.-]/g, '').slice(0, 32);
    const close = new RegExp('^ {0,3}' + (mark[0] === '`' ? '`' : '~') + '{' + mark.length + ',}\\s*$');
    const body = [];
    for (i++; i < lines.length && !close.test(lines[i]); i++) {
      body.push(lines[i].slice(Math.min(pad, indentOf(lines[i]))));
    }
    const cls = lang ? ' class="language-' + escapeHtml(lang) + '"' : '';
    out.push('<div class="code-block"><div class="code-head"><span class="code-lang">' +
      escapeHtml(lang || 'text') + '</span><button type="button" class="code-copy">Copy</button></div>' +
      '<pre><code' + cls + '>' + escapeHtml(body.join('\n')) + '</code></pre></div>');
    return i + 1; // past the closing fence (or the end)
  }

  function list(lines, i, out, depth) {
    const first = ITEM_RE.exec(lines[i]);
    const base = first[1].length;
    const ordered = /\d/.test(first[2]);
    const items = [];
    let item = null;
    while (i < lines.length) {
      const line = lines[i];
      const m = ITEM_RE.exec(line);
      if (m && m[1].length < base + 2) {
        if (/\d/.test(m[2]) !== ordered || m[1].length < base) break;
        item = { width: m[1].length + m[2].length + 1, lines: [m[3] || ''] };
        items.push(item);
        i++;
        continue;
      }
      if (isBlank(line)) {
        let j = i + 1;
        while (j < lines.length && isBlank(lines[j])) j++;
        if (j >= lines.length) break;
        const n = ITEM_RE.exec(lines[j]);
        const sameList = n && n[1].length >= base && n[1].length < base + 2 && /\d/.test(n[2]) === ordered;
        if (sameList) { i = j; continue; }
        if (indentOf(lines[j]) < item.width) break;
        for (; i < j; i++) item.lines.push('');
        continue;
      }
      const ind = indentOf(line);
      if (ind <= base && (isBlank(lines[i - 1]) || startsBlock(lines, i))) break;
      item.lines.push(line.slice(Math.min(ind, item.width)));
      i++;
    }
    const tag = ordered ? 'ol' : 'ul';
    const start = ordered && parseInt(first[2], 10) !== 1 ? ' start="' + parseInt(first[2], 10) + '"' : '';
    const lis = items.map((it) => {
      let html = blocks(it.lines, depth + 1);
      // A tight item (no blank line inside) shows its leading paragraph without <p>.
      if (!it.lines.some(isBlank)) html = html.replace(/^<p>([\s\S]*?)<\/p>/, '$1');
      return '<li>' + html + '</li>';
    });
    out.push('<' + tag + start + '>' + lis.join('') + '</' + tag + '>');
    return i;
  }

  function blocks(lines, depth) {
    const out = [];
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (isBlank(line)) { i++; continue; }
      if (FENCE_RE.test(line)) { i = fence(lines, i, out); continue; }
      if ((m = HEADING_RE.exec(line))) {
        const level = m[1].length;
        out.push('<h' + level + '>' + inline(m[2] || '') + '</h' + level + '>');
        i++;
        continue;
      }
      if (HR_RE.test(line)) { out.push('<hr>'); i++; continue; }
      if (depth < MAX_DEPTH && QUOTE_RE.test(line)) {
        const body = [];
        while (i < lines.length && (QUOTE_RE.test(lines[i]) || body.length && !isBlank(lines[i]) && !startsBlock(lines, i))) {
          body.push(lines[i++].replace(/^ {0,3}> ?/, ''));
        }
        out.push('<blockquote>' + blocks(body, depth + 1) + '</blockquote>');
        continue;
      }
      if (isTableStart(lines, i)) { i = table(lines, i, out); continue; }
      if (depth < MAX_DEPTH && ITEM_RE.test(line)) { i = list(lines, i, out, depth); continue; }
      const para = [line.trim()];
      for (i++; i < lines.length && !isBlank(lines[i]) && !startsBlock(lines, i); i++) para.push(lines[i].trim());
      out.push('<p>' + inline(para.join('\n')) + '</p>');
    }
    return out.join('');
  }

  function render(src) {
    const text = String(src == null ? '' : src)
      .replace(/\u0000/g, '')
      .replace(/\r\n?/g, '\n')
      .replace(/^\t+/gm, (t) => '    '.repeat(t.length));
    return blocks(text.split('\n'), 0);
  }

  global.MuseMarkdown = { render, escapeHtml };
})(typeof window !== 'undefined' ? window : globalThis);
