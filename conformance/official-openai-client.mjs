// Drives the fake OpenAI-compatible chat API (DingTalk.CardGateway.Tests/Fixtures/FakeOpenAi.cs) with OpenAI's
// official Node SDK (openai), the way a real app would: stream a chat completion, read it chunk by chunk and through the
// SDK's own accumulator, and read the API's errors.
// Usage: node official-openai-client.mjs http://127.0.0.1:PORT/v1 apiKey model
// The test on the other side scripts the answers to the questions below (the user messages).
// Prints one JSON line ({"ok":true,...} or {"ok":false,"step":...}) and exits non-zero on any failure.
import OpenAI from 'openai';
import { expect, fail as report } from './report.mjs';

const questions = {
  stream: 'conformance: stream',
  helper: 'conformance: helper',
  serverError: 'conformance: overloaded',
};
const system = 'You are the conformance typewriter. Answer briefly.';

const [baseURL, apiKey, model] = process.argv.slice(2);
if (!baseURL || !apiKey || !model) {
  fail('usage', new Error('usage: node official-openai-client.mjs <baseUrl> <apiKey> <model>'));
}

// No retries: every refusal must reach the script as the error the API answered, once.
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 10_000 });
const messages = (question) => [{ role: 'system', content: system }, { role: 'user', content: question }];

const results = { ok: false };
let step = 'start';

try {
  // What an app does with stream: true: iterate the chunks, join the deltas, stop at finish_reason.
  step = 'stream';
  const { data: stream, response, request_id } = await client.chat.completions
    .create({ model, messages: messages(questions.stream), stream: true })
    .withResponse();
  expect(response.status === 200, `the stream answers 200, got ${response.status}`);
  expect(typeof request_id === 'string' && request_id.length > 0, 'the stream carries an x-request-id');
  const deltas = [];
  const roles = [];
  let id;
  let finishReason = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    expect(chunk.object === 'chat.completion.chunk', `object is chat.completion.chunk, got ${chunk.object}`);
    expect(typeof chunk.id === 'string' && chunk.id.length > 0, 'every chunk has an id');
    expect(id === undefined || chunk.id === id, 'every chunk of one completion has the same id');
    id = chunk.id;
    expect(Number.isInteger(chunk.created) && chunk.created > 0, `created is unix seconds, got ${chunk.created}`);
    expect(chunk.model === model, `model is ${model}, got ${chunk.model}`);
    expect(Array.isArray(chunk.choices) && chunk.choices.length === 1, 'one choice per chunk');
    const [choice] = chunk.choices;
    expect(choice.index === 0, `choice index 0, got ${choice.index}`);
    expect(finishReason === null, 'no chunk after the one with a finish_reason');
    if (choice.delta.role !== undefined) {
      roles.push(choice.delta.role);
    }
    if (typeof choice.delta.content === 'string' && choice.delta.content.length > 0) {
      deltas.push(choice.delta.content);
    }
    finishReason = choice.finish_reason ?? null;
  }
  expect(chunks > 0, 'the stream sent chunks');
  expect(roles.length === 1 && roles[0] === 'assistant', `the first delta says role assistant, once; got ${JSON.stringify(roles)}`);
  expect(finishReason === 'stop', `the stream ends with finish_reason stop, got ${finishReason}`);
  results.stream = { text: deltas.join(''), deltas, chunks, finishReason, requestId: request_id };

  // The SDK's own accumulator (chat.completions.stream) rebuilds the whole completion: it refuses chunks it cannot add up.
  step = 'helper';
  const runner = client.chat.completions.stream({ model, messages: messages(questions.helper) });
  const completion = await runner.finalChatCompletion();
  expect(completion.choices.length === 1, 'the final completion has one choice');
  expect(completion.choices[0].message.role === 'assistant', 'the final message is the assistant\'s');
  expect(completion.choices[0].finish_reason === 'stop', `the final completion finished with stop, got ${completion.choices[0].finish_reason}`);
  expect(completion.model === model, `the final completion names the model ${model}`);
  results.helper = { text: completion.choices[0].message.content, finishReason: completion.choices[0].finish_reason };

  // Errors as OpenAI shapes them ({"error":{"message","type","param","code"}}), raised as the SDK's documented classes.
  step = 'wrongKey';
  const wrong = new OpenAI({ baseURL, apiKey: `${apiKey}-wrong`, maxRetries: 0, timeout: 10_000 });
  results.wrongKey = await apiError(
    () => wrong.chat.completions.create({ model, messages: messages(questions.stream), stream: true }),
    OpenAI.AuthenticationError,
    401);

  step = 'serverError';
  results.serverError = await apiError(
    () => client.chat.completions.create({ model, messages: messages(questions.serverError), stream: true }),
    OpenAI.InternalServerError,
    503);

  results.ok = true;
  console.log(JSON.stringify(results));
} catch (error) {
  fail(step, error);
}

async function apiError(call, Kind, status) {
  try {
    const stream = await call();
    for await (const _ of stream) {
      // an error must come before the first chunk, as a status
    }
  } catch (error) {
    expect(error instanceof Kind, `a ${Kind.name}, got ${error?.constructor?.name}: ${error?.message}`);
    expect(error instanceof OpenAI.APIError, 'an OpenAI.APIError');
    expect(error.status === status, `status ${status}, got ${error.status}`);
    expect(typeof error.error?.message === 'string' && error.error.message.length > 0, 'the body\'s error.message is read');
    expect(error.message === `${status} ${error.error.message}`, `the message is the body's, got ${error.message}`);
    expect(typeof error.type === 'string' && error.type.length > 0, 'the body\'s error.type is read');
    expect(typeof error.requestID === 'string' && error.requestID.length > 0, 'the error carries an x-request-id');
    return { kind: Kind.name, status: error.status, message: error.error.message, type: error.type, code: error.code ?? null, requestId: error.requestID };
  }
  throw new Error('expected the call to fail');
}

function fail(where, error) {
  report(where, error, { kind: error?.constructor?.name, status: error?.status });
}
