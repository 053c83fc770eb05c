// Load benchmark for `muse serve` (not a test): C concurrent streaming chat clients for D
// seconds on loopback, each sending its next request as soon as the last one ends. Reports
// requests, failures, time to first token (p50/p99) and aggregate generated tokens/s.
//
//   node bench/serve_load.mjs --url http://127.0.0.1:8080 --clients 64 --seconds 60 \
//        --max-tokens 64 [--json]
//
// Node 18+ only (global fetch); no npm packages.
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : true]);
    return acc;
  }, []),
);
const url = (args.url || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const clients = Number(args.clients || 64);
const seconds = Number(args.seconds || 60);
const maxTokens = Number(args['max-tokens'] || 64);

const topics = ['the sea', 'a city at night', 'mountains', 'a library', 'the moon', 'rain', 'a train', 'winter'];
const model = (await (await fetch(`${url}/v1/models`)).json()).data[0].id;

const ttft = [];
let requests = 0;
let failed = 0;
let tokens = 0;
const failures = new Map();
const fail = (why) => {
  failed++;
  failures.set(why, (failures.get(why) || 0) + 1);
};

async function one(i, n) {
  const t0 = performance.now();
  let first = null;
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      model,
      messages: [{ role: 'user', content: `Client ${i}, request ${n}: write about ${topics[(i + n) % topics.length]}.` }],
      max_tokens: maxTokens,
      temperature: 0.8,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (res.status !== 200) {
    await res.text();
    return fail(`HTTP ${res.status}`);
  }
  const decoder = new TextDecoder();
  let buf = '';
  let done = false;
  let usage = null;
  for await (const bytes of res.body) {
    buf += decoder.decode(bytes, { stream: true });
    let k;
    while ((k = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, k);
      buf = buf.slice(k + 2);
      if (!event.startsWith('data: ')) continue;
      const data = event.slice(6);
      if (data === '[DONE]') {
        done = true;
        continue;
      }
      const chunk = JSON.parse(data);
      if (chunk.error) return fail(`stream error: ${chunk.error.message}`);
      if (chunk.usage) usage = chunk.usage;
      const d = chunk.choices?.[0]?.delta;
      if (first === null && d && (d.content || d.reasoning_content)) first = performance.now();
    }
  }
  if (!done || !usage) return fail('stream ended without [DONE] and usage');
  requests++;
  tokens += usage.completion_tokens;
  if (first !== null) ttft.push(first - t0);
}

const t0 = performance.now();
const deadline = t0 + seconds * 1000;
await Promise.all(
  Array.from({ length: clients }, async (_, i) => {
    for (let n = 0; performance.now() < deadline; ++n) {
      try {
        await one(i, n);
      } catch (e) {
        fail(`exception: ${e.message}`);
      }
    }
  }),
);
const wall = (performance.now() - t0) / 1000;
ttft.sort((a, b) => a - b);
const pct = (p) => (ttft.length ? ttft[Math.min(ttft.length - 1, Math.floor((p / 100) * ttft.length))] : NaN);
const result = {
  clients,
  seconds: Number(wall.toFixed(1)),
  requests,
  failed,
  failures: Object.fromEntries(failures),
  ttft_p50_ms: Math.round(pct(50)),
  ttft_p99_ms: Math.round(pct(99)),
  tokens,
  tokens_per_s: Number((tokens / wall).toFixed(1)),
};
if (args.json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`clients ${clients}  wall ${result.seconds} s  requests ${requests}  failed ${failed}`);
  console.log(`time to first token  p50 ${result.ttft_p50_ms} ms  p99 ${result.ttft_p99_ms} ms`);
  console.log(`generated ${tokens} tokens  aggregate ${result.tokens_per_s} t/s`);
  if (failed) console.log('failures:', result.failures);
}
process.exit(failed ? 1 : 0);
