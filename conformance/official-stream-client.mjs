// Drives the fake DingTalk's Stream side with DingTalk's official Node Stream client (dingtalk-stream), the way a
// real app would: open a connection, keep it, answer a ping, an EVENT and a card callback.
// Usage: node official-stream-client.mjs http://127.0.0.1:PORT clientId clientSecret
// Prints one JSON line per milestone ({"step":"connected"}), then {"ok":true,...} or {"ok":false,"step":...}, and
// exits non-zero on any failure. The test on the other side pushes the frames and reads the answers.
import axios from 'axios';
import { DWClient, EventAck, GATEWAY_URL, TOPIC_CARD } from 'dingtalk-stream';
import { fail as report } from './report.mjs';

const [baseUrl, clientId, clientSecret] = process.argv.slice(2);
if (!baseUrl || !clientId || !clientSecret) {
  fail('usage', new Error('usage: node official-stream-client.mjs <baseUrl> <clientId> <clientSecret>'));
}

// The SDK's gateway URL is a constant (https://api.dingtalk.com/...): send that one call to the fake instead.
const openUrl = new URL('/v1.0/gateway/connections/open', baseUrl).toString();
let redirected = 0;
axios.interceptors.request.use((config) => {
  if (config.url === GATEWAY_URL) {
    config.url = openUrl;
    redirected++;
  }
  return config;
});

const results = { ok: false, events: [], cardCallbacks: [] };
let step = 'connect';
const deadline = setTimeout(() => fail(step, new Error('timed out')), 60_000);

const client = new DWClient({ clientId, clientSecret, ua: 'dingtalk-stream-node-conformance', autoReconnect: false });

client.registerAllEventListener((message) => {
  results.events.push({ messageId: message.headers.messageId, topic: message.headers.topic, data: JSON.parse(message.data) });
  return { status: EventAck.SUCCESS, message: 'success' };
});

client.registerCallbackListener(TOPIC_CARD, (message) => {
  try {
    step = 'cardCallback';
    const body = JSON.parse(message.data);
    const content = JSON.parse(body.content);
    const params = content.cardPrivateData.params;
    results.cardCallbacks.push({ messageId: message.headers.messageId, outTrackId: body.outTrackId, userId: body.userId, params });
    // The SDK's documented way to answer a card callback: it wraps the update as {"response": …}.
    client.socketCallBackResponse(message.headers.messageId, {
      cardUpdateOptions: { updateCardDataByKey: true, updatePrivateDataByKey: true },
      cardData: { cardParamMap: { status: 'seen' } },
      userPrivateData: { cardParamMap: { choice: String(params.option) } },
    });
    // Let the answer leave before closing the socket.
    setTimeout(() => {
      results.redirected = redirected;
      results.ok = true;
      client.disconnect();
      clearTimeout(deadline);
      console.log(JSON.stringify(results));
      process.exit(0);
    }, 300);
  } catch (error) {
    fail(step, error);
  }
});

await client.connect();
if (!client.connected) {
  fail('connect', new Error(`not connected (the open-connection call went to ${openUrl}; redirected ${redirected} time(s))`));
}
console.log(JSON.stringify({ step: 'connected', redirected }));
step = 'waiting for a card callback';

function fail(where, error) {
  report(where, error, { data: error?.response?.data });
}
