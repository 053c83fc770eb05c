// The official `openai` npm client against a running `muse serve` (tests/e2e/run.sh starts
// one on a tiny random-weight model with Qwen2.5's chat template, --parallel 2 --queue 0,
// --api-key, --max-body 65536). MUSE_URL names it; without it every test skips.
//
// The model's text is gibberish; what is checked is the protocol: shapes, counts, seeds,
// streaming equal to non-streaming, n, logprobs, tools rendered and returned, every error
// status, and that a client that disconnects frees its sequences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const URL_ = process.env.MUSE_URL;
const KEY = process.env.MUSE_API_KEY || 'sk-test';
const SKIP = URL_ ? false : 'MUSE_URL is not set (tests/e2e/run.sh starts a server)';
const client = URL_ ? new OpenAI({ baseURL: `${URL_}/v1`, apiKey: KEY, maxRetries: 0 }) : null;
const hi = [{ role: 'user', content: 'Say hello.' }];

async function modelId() {
  const models = await client.models.list();
  return models.data[0].id;
}

async function metric(name) {
  const text = await (await fetch(`${URL_}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line ? Number(line.split(' ').pop()) : NaN;
}

async function waitIdle() {
  for (let i = 0; i < 200; ++i) {
    if ((await metric('muse_requests_active')) === 0 && (await metric('muse_sequences_running')) === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('the server did not return to idle');
}

test('models: one model, OpenAI list shape', { skip: SKIP }, async () => {
  const models = await client.models.list();
  assert.equal(models.data.length, 1);
  assert.equal(models.data[0].object, 'model');
  assert.ok(models.data[0].id.length > 0);
});

test('chat: a completion with usage, and the same seed gives the same text', { skip: SKIP }, async () => {
  const model = await modelId();
  const req = { model, messages: hi, max_tokens: 12, seed: 7, temperature: 0.8 };
  const a = await client.chat.completions.create(req);
  assert.equal(a.object, 'chat.completion');
  assert.equal(a.choices.length, 1);
  assert.equal(a.choices[0].message.role, 'assistant');
  assert.equal(typeof a.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(a.choices[0].finish_reason));
  assert.ok(a.usage.prompt_tokens > 0);
  assert.ok(a.usage.completion_tokens > 0 && a.usage.completion_tokens <= 12);
  assert.equal(a.usage.total_tokens, a.usage.prompt_tokens + a.usage.completion_tokens);
  const b = await client.chat.completions.create(req);
  assert.equal(b.choices[0].message.content, a.choices[0].message.content);
});

test('streaming: chunks add up to the non-streaming answer', { skip: SKIP }, async () => {
  const model = await modelId();
  const req = { model, messages: hi, max_tokens: 16, seed: 11, temperature: 0.7 };
  const whole = await client.chat.completions.create(req);
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let finish = null;
  let usage = null;
  let role = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.role) role = c.delta.role;
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(role, 'assistant');
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.deepEqual(usage, whole.usage);
});

test('n: several choices from one prompt, each its own sample', { skip: SKIP }, async () => {
  const model = await modelId();
  const r = await client.chat.completions.create({ model, messages: hi, n: 3, max_tokens: 10, seed: 3, temperature: 1.0 });
  assert.equal(r.choices.length, 3);
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
  const texts = new Set(r.choices.map((c) => c.message.content));
  assert.ok(texts.size > 1, 'different seeds per choice');
  // Choice 0 samples with the request's seed: the same text as n = 1.
  const one = await client.chat.completions.create({ model, messages: hi, max_tokens: 10, seed: 3, temperature: 1.0 });
  assert.equal(r.choices[0].message.content, one.choices[0].message.content);

  const stream = await client.chat.completions.create({ model, messages: hi, n: 2, max_tokens: 6, seed: 3, stream: true });
  const seen = new Set();
  for await (const chunk of stream) for (const c of chunk.choices) seen.add(c.index);
  assert.deepEqual([...seen].sort(), [0, 1]);
});

test('logprobs: one entry per token with sorted alternatives', { skip: SKIP }, async () => {
  const model = await modelId();
  const r = await client.chat.completions.create({ model, messages: hi, max_tokens: 8, logprobs: true, top_logprobs: 3, seed: 1 });
  const lp = r.choices[0].logprobs.content;
  assert.ok(lp.length >= 1 && lp.length <= 8);
  for (const t of lp) {
    assert.equal(typeof t.token, 'string');
    assert.ok(t.logprob <= 0);
    assert.ok(Array.isArray(t.bytes));
    assert.equal(t.top_logprobs.length, 3);
    for (let i = 1; i < 3; ++i) assert.ok(t.top_logprobs[i - 1].logprob >= t.top_logprobs[i].logprob);
    assert.ok(t.logprob <= t.top_logprobs[0].logprob + 1e-6);
  }
  assert.equal(lp.map((t) => t.token).join('').trim(), r.choices[0].message.content);
});

test('tools: schemas and a tool-call round trip render through the template', { skip: SKIP }, async () => {
  const model = await modelId();
  const tools = [{
    type: 'function',
    function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  }];
  const first = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, tool_choice: 'auto', max_tokens: 8 });
  assert.ok(['stop', 'length', 'tool_calls'].includes(first.choices[0].finish_reason));
  const withTools = first.usage.prompt_tokens;
  const without = (await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Weather in Paris?' }], max_tokens: 1 })).usage.prompt_tokens;
  assert.ok(withTools > without + 20, `the tool schema is in the prompt (${withTools} vs ${without} tokens)`);
  // The client sends back the model's call and the tool's result (arguments as a JSON string).
  const second = await client.chat.completions.create({
    model,
    tools,
    max_tokens: 8,
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c": 21}' },
    ],
  });
  assert.equal(second.choices.length, 1);
  assert.ok(second.usage.prompt_tokens > withTools);
});

test('tools: a required or named tool_choice gets that call or an error, never a plain answer', { skip: SKIP }, async () => {
  const model = await modelId();
  const fn = (name) => ({ type: 'function', function: { name, parameters: { type: 'object', properties: {} } } });
  const tools = [fn('get_weather'), fn('get_time')];
  const messages = [{ role: 'user', content: 'What time is it?' }];
  // The random-weight model does not write a parsable call after the forced <tool_call>, so
  // these end in the error; a model that did would have to return the call.
  const check = (calls, tool_choice) => {
    assert.ok(calls.length >= 1);
    if (typeof tool_choice === 'object') for (const c of calls) assert.equal(c.function.name, 'get_time');
  };
  for (const tool_choice of ['required', { type: 'function', function: { name: 'get_time' } }]) {
    const req = { model, messages, tools, tool_choice, max_tokens: 16, seed: 3 };
    try {
      const r = await client.chat.completions.create(req);
      assert.equal(r.choices[0].finish_reason, 'tool_calls');
      check(r.choices[0].message.tool_calls, tool_choice);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.equal(e.status, 500, e.message);
      assert.match(e.message, /tool_choice/);
    }
    try {
      const calls = [];
      let finish = null;
      for await (const chunk of await client.chat.completions.create({ ...req, stream: true })) {
        for (const c of chunk.choices) {
          assert.ok(!c.delta.content, 'no plain content before the call');
          calls.push(...(c.delta.tool_calls || []));
          finish = c.finish_reason || finish;
        }
      }
      assert.equal(finish, 'tool_calls');
      check(calls, tool_choice);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.match(e.message, /tool_choice/);
    }
  }
  await waitIdle();
});

test('completions: legacy endpoint with logprobs', { skip: SKIP }, async () => {
  const model = await modelId();
  const r = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 5, logprobs: 2, seed: 5 });
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0].text, 'string');
  assert.ok(r.choices[0].logprobs.tokens.length >= 1);
  assert.equal(r.choices[0].logprobs.top_logprobs[0] && Object.keys(r.choices[0].logprobs.top_logprobs[0]).length, 2);
});

test('contemplating: agents, a vote and the answer, streamed as muse events', { skip: SKIP }, async () => {
  const model = await modelId();
  const r = await client.chat.completions.create({ model, messages: hi, max_tokens: 8, seed: 2, reasoning_effort: 'contemplating', contemplate: { agents: 2, thinking_budget: 8 } });
  assert.equal(r.muse.agents.length, 2);
  assert.equal(typeof r.choices[0].message.content, 'string');
  const stream = await client.chat.completions.create({ model, messages: hi, max_tokens: 8, seed: 2, stream: true, reasoning_effort: 'contemplating', contemplate: { agents: 2, thinking_budget: 8 } });
  const events = new Set();
  for await (const chunk of stream) if (chunk.muse) events.add(chunk.muse.event);
  for (const e of ['agent_started', 'token', 'final', 'result']) assert.ok(events.has(e), `event ${e}`);
});

test('contemplating: a vote decided by the first agent leaves the others unstarted', { skip: SKIP }, async () => {
  const model = await modelId();
  // One agent at a time, and the first finished answer is already a consensus.
  const r = await client.chat.completions.create({ model, messages: hi, max_tokens: 8, seed: 3, reasoning_effort: 'contemplating',
    contemplate: { agents: 4, parallel: 1, warmup: 1, consensus: 0.01, thinking_budget: 8, answer_format: 'exact' } });
  const statuses = r.muse.agents.map((a) => a.status);
  assert.equal(statuses.length, 4);
  assert.equal(statuses[0], 'finished', JSON.stringify(statuses));
  assert.deepEqual(statuses.slice(1), ['not started', 'not started', 'not started']);
  assert.equal(r.muse.tokens, r.muse.agents[0].tokens);
});

test('errors: OpenAI error objects with the right status', { skip: SKIP }, async () => {
  const model = await modelId();
  const bad = async (req, status, param) => {
    try {
      await client.chat.completions.create(req);
      assert.fail('expected an error');
    } catch (e) {
      assert.equal(e.status, status, e.message);
      assert.ok(e.error?.message, 'error.message');
      if (param) assert.equal(e.error.param, param);
    }
  };
  await bad({ model, messages: [] }, 400, 'messages');
  await bad({ model, messages: [{ role: 'wizard', content: 'x' }] }, 400, 'messages[0].role');
  await bad({ model, messages: hi, temperature: 5 }, 400, 'temperature');
  await bad({ model, messages: hi, n: 0 }, 400, 'n');
  await bad({ model, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }] }, 400, 'messages[0].content[0]');
  await bad({ model: 'gpt-nonexistent', messages: hi }, 404, 'model');

  const wrongKey = new OpenAI({ baseURL: `${URL_}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(wrongKey.models.list(), (e) => e.status === 401);

  const raw = (path, body, headers = {}) => fetch(`${URL_}${path}`, { method: 'POST', body, headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', ...headers } });
  let res = await raw('/v1/chat/completions', '{"messages": [');
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /JSON/);
  res = await raw('/v1/nowhere', '{}');
  assert.equal(res.status, 404);
  assert.ok((await res.json()).error);
  res = await raw('/v1/chat/completions', JSON.stringify({ model, messages: [{ role: 'user', content: 'x'.repeat(70000) }] }));
  assert.equal(res.status, 413);
  assert.ok((await res.json()).error);
  // A bad request never affects the others: the server still answers.
  const ok = await client.chat.completions.create({ model, messages: hi, max_tokens: 2 });
  assert.equal(ok.choices.length, 1);
});

test('capacity and disconnects: 503 with Retry-After when full; aborted streams free their slot', { skip: SKIP }, async () => {
  const model = await modelId();
  await waitIdle();
  // --parallel 2 --queue 0: two long streams (2 choices each, up to the 4096-token context:
  // seconds of work even for the tiny model) fill the server.
  const controllers = [new AbortController(), new AbortController()];
  const streams = await Promise.all(controllers.map((c) => client.chat.completions.create(
    { model, messages: hi, n: 2, stream: true, temperature: 1 }, { signal: c.signal })));
  const iters = streams.map((s) => s[Symbol.asyncIterator]());
  await Promise.all(iters.map((it) => it.next()));  // both are generating
  const res = await fetch(`${URL_}/v1/chat/completions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, messages: hi, max_tokens: 2 }),
  });
  assert.equal(res.status, 503);
  assert.ok(res.headers.get('retry-after'));
  assert.equal((await res.json()).error.code, 'queue_full');
  for (const c of controllers) c.abort();
  await Promise.allSettled(iters.map((it) => it.next()));
  await waitIdle();  // the engine cancelled both at its next step
  const after = await client.chat.completions.create({ model, messages: hi, max_tokens: 2 });
  assert.equal(after.choices.length, 1);
});

test('disconnect: a non-streaming client that leaves stops its generation', { skip: SKIP }, async () => {
  const model = await modelId();
  await waitIdle();
  const before = await metric('muse_tokens_decoded_total');
  // Four choices up to the 4096-token context: ~16k tokens if nobody stopped them.
  const c = new AbortController();
  const pending = client.chat.completions.create({ model, messages: hi, n: 4, temperature: 1 }, { signal: c.signal });
  await new Promise((r) => setTimeout(r, 300));
  c.abort();
  await assert.rejects(pending);
  await waitIdle();
  const decoded = (await metric('muse_tokens_decoded_total')) - before;
  assert.ok(decoded < 8000, `generation stopped early (${decoded} tokens decoded)`);
});

test('contemplating with refine: rounds, a workspace and a synthesized answer', { skip: SKIP }, async () => {
  const model = await modelId();
  const r = await client.chat.completions.create({ model, messages: hi, max_tokens: 6, seed: 4, reasoning_effort: 'contemplating', contemplate: { agents: 2, thinking_budget: 6, rounds: 2 } });
  assert.equal(r.muse.rounds.length, 2);
  assert.equal(typeof r.muse.workspace, 'string');
  assert.equal(typeof r.choices[0].message.content, 'string');
});
