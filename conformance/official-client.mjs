// Drives the fake DingTalk with DingTalk's official Node SDK (@alicloud/dingtalk), the way a real app would.
// Usage: node official-client.mjs http://127.0.0.1:PORT appKey appSecret
// Prints one JSON line ({"ok":true,...} or {"ok":false,"step":...}) and exits non-zero on any failure.
import { createRequire } from 'node:module';
import { expect, fail as report } from './report.mjs';

const require = createRequire(import.meta.url);
const $OpenApi = require('@alicloud/openapi-client');
const $Util = require('@alicloud/tea-util');
const oauth2 = require('@alicloud/dingtalk/oauth2_1_0');
const card = require('@alicloud/dingtalk/card_1_0');
const im = require('@alicloud/dingtalk/im_1_0');

const [baseUrl, appKey, appSecret] = process.argv.slice(2);
if (!baseUrl || !appKey || !appSecret) {
  fail('usage', new Error('usage: node official-client.mjs <baseUrl> <appKey> <appSecret>'));
}

const base = new URL(baseUrl);
if (base.pathname !== '/') {
  fail('usage', new Error(`the SDK cannot add a path prefix; give the root URL, not ${baseUrl}`));
}

const config = new $OpenApi.Config({
  protocol: base.protocol.replace(':', ''),
  regionId: 'central',
  endpoint: base.host,
  readTimeout: 10000,
  connectTimeout: 5000,
});
const runtime = () => new $Util.RuntimeOptions({ readTimeout: 10000, connectTimeout: 5000 });

const ids = {
  outTrackId: 'conformance-card-1',
  openSpaceId: 'dtv1.card//IM_GROUP.cidConformance==',
  routeKey: 'conformance-route',
  callbackUrl: 'https://gateway.example.test/callbacks/card',
  apiSecret: 'conformance-secret',
  robotCode: 'conformance-robot',
  cardBizId: 'conformance-biz-1',
};

const results = { ok: false };
let step = 'start';

try {
  step = 'getAccessToken';
  const oauth = new oauth2.default(config);
  const token = await oauth.getAccessToken(new oauth2.GetAccessTokenRequest({ appKey, appSecret }));
  expect(typeof token.body.accessToken === 'string' && token.body.accessToken.length > 0, 'accessToken is a non-empty string');
  expect(token.body.expireIn === 7200, `expireIn is 7200, got ${token.body.expireIn}`);
  results.expireIn = token.body.expireIn;

  const cards = new card.default(config);
  const robots = new im.default(config);
  const headers = (Kind) => new Kind({ xAcsDingtalkAccessToken: token.body.accessToken });

  step = 'registerCallback';
  const registered = await cards.registerCallbackWithOptions(
    new card.RegisterCallbackRequest({
      callbackRouteKey: ids.routeKey,
      callbackUrl: ids.callbackUrl,
      apiSecret: ids.apiSecret,
      forceUpdate: true,
    }),
    headers(card.RegisterCallbackHeaders),
    runtime());
  expect(registered.body.success === true, 'registerCallback success');
  expect(registered.body.result.callbackUrl === ids.callbackUrl, 'registerCallback echoes the callbackUrl');
  results.registered = registered.body.result;

  step = 'createAndDeliver';
  const created = await cards.createAndDeliverWithOptions(
    new card.CreateAndDeliverRequest({
      cardTemplateId: 'conformance.schema',
      outTrackId: ids.outTrackId,
      callbackType: 'HTTP',
      callbackRouteKey: ids.routeKey,
      cardData: new card.CreateAndDeliverRequestCardData({ cardParamMap: { title: 'Lunch?', count: '0' } }),
      privateData: { 'user-1': new card.PrivateDataValue({ cardParamMap: { voted: 'false' } }) },
      openSpaceId: ids.openSpaceId,
      imGroupOpenSpaceModel: new card.CreateAndDeliverRequestImGroupOpenSpaceModel({
        supportForward: true,
        notification: new card.CreateAndDeliverRequestImGroupOpenSpaceModelNotification({ alertContent: 'New poll' }),
      }),
      imGroupOpenDeliverModel: new card.CreateAndDeliverRequestImGroupOpenDeliverModel({ robotCode: ids.robotCode }),
      userIdType: 1,
    }),
    headers(card.CreateAndDeliverHeaders),
    runtime());
  expect(created.body.success === true, 'createAndDeliver success');
  expect(created.body.result.outTrackId === ids.outTrackId, 'createAndDeliver answers the outTrackId');
  const delivered = created.body.result.deliverResults;
  expect(delivered.length === 1 && delivered[0].success === true && delivered[0].spaceType === 'IM_GROUP', 'one successful IM_GROUP delivery');
  results.deliverResults = delivered;

  step = 'updateCard';
  const updated = await cards.updateCardWithOptions(
    new card.UpdateCardRequest({
      outTrackId: ids.outTrackId,
      cardData: new card.UpdateCardRequestCardData({ cardParamMap: { count: '1' } }),
      privateData: { 'user-1': new card.PrivateDataValue({ cardParamMap: { voted: 'true' } }) },
      cardUpdateOptions: new card.UpdateCardRequestCardUpdateOptions({ updateCardDataByKey: true, updatePrivateDataByKey: true }),
      userIdType: 1,
    }),
    headers(card.UpdateCardHeaders),
    runtime());
  expect(updated.body.success === true && updated.body.result === true, 'updateCard answers result true');

  step = 'streamingUpdate';
  const frames = [
    { guid: 'conformance-frame-1', content: 'Hel', isFull: true, isFinalize: false },
    { guid: 'conformance-frame-2', content: 'Hello!', isFull: true, isFinalize: true },
  ];
  for (const frame of frames) {
    const streamed = await cards.streamingUpdateWithOptions(
      new card.StreamingUpdateRequest({ outTrackId: ids.outTrackId, key: 'answer', isError: false, ...frame }),
      headers(card.StreamingUpdateHeaders),
      runtime());
    expect(streamed.body.success === true, `streaming frame ${frame.guid} success`);
  }
  results.frames = frames.length;

  step = 'sendRobotInteractiveCard';
  const sent = await robots.sendRobotInteractiveCardWithOptions(
    new im.SendRobotInteractiveCardRequest({
      cardTemplateId: 'StandardCard',
      cardBizId: ids.cardBizId,
      robotCode: ids.robotCode,
      openConversationId: 'cidConformance==',
      cardData: JSON.stringify({ config: { autoLayout: true }, header: { title: { type: 'text', text: 'Lunch?' } }, contents: [] }),
      callbackUrl: 'https://gateway.example.test/callbacks/robot',
      userIdPrivateDataMap: JSON.stringify({ 'user-1': { voted: 'false' } }),
      pullStrategy: false,
      sendOptions: new im.SendRobotInteractiveCardRequestSendOptions({ atAll: false, atUserListJson: JSON.stringify([]) }),
    }),
    headers(im.SendRobotInteractiveCardHeaders),
    runtime());
  expect(typeof sent.body.processQueryKey === 'string' && sent.body.processQueryKey.length > 0, 'send answers a processQueryKey');

  step = 'updateRobotInteractiveCard';
  const robotUpdated = await robots.updateRobotInteractiveCardWithOptions(
    new im.UpdateRobotInteractiveCardRequest({
      cardBizId: ids.cardBizId,
      cardData: JSON.stringify({ contents: [{ type: 'text', text: 'Pizza wins' }] }),
      updateOptions: new im.UpdateRobotInteractiveCardRequestUpdateOptions({ updateCardDataByKey: true }),
    }),
    headers(im.UpdateRobotInteractiveCardHeaders),
    runtime());
  expect(typeof robotUpdated.body.processQueryKey === 'string', 'update answers a processQueryKey');
  results.processQueryKeys = [sent.body.processQueryKey, robotUpdated.body.processQueryKey];

  // The SDK must also understand the fake's errors: code and request id out of {code, message, requestid}.
  step = 'errors';
  results.errors = {
    unknownCard: await errorCode(() => cards.updateCardWithOptions(
      new card.UpdateCardRequest({ outTrackId: 'conformance-missing', cardData: new card.UpdateCardRequestCardData({ cardParamMap: {} }) }),
      headers(card.UpdateCardHeaders),
      runtime())),
    badToken: await errorCode(() => cards.streamingUpdateWithOptions(
      new card.StreamingUpdateRequest({ outTrackId: ids.outTrackId, guid: 'x', key: 'answer', content: '', isFull: true }),
      new card.StreamingUpdateHeaders({ xAcsDingtalkAccessToken: 'not-a-token' }),
      runtime())),
    wrongSecret: await errorCode(() => oauth.getAccessToken(new oauth2.GetAccessTokenRequest({ appKey, appSecret: appSecret + '-wrong' }))),
  };
  expect(results.errors.unknownCard === 'param.cardNotExist', `unknown card is param.cardNotExist, got ${results.errors.unknownCard}`);
  expect(results.errors.badToken === 'InvalidAuthentication', `bad token is InvalidAuthentication, got ${results.errors.badToken}`);
  expect(results.errors.wrongSecret === 'invalidClientIdOrSecret', `wrong secret is invalidClientIdOrSecret, got ${results.errors.wrongSecret}`);

  results.ok = true;
  console.log(JSON.stringify(results));
} catch (error) {
  fail(step, error);
}

async function errorCode(call) {
  try {
    await call();
  } catch (error) {
    expect(typeof error.data?.requestid === 'string' && error.data.requestid.length > 0, 'error carries a requestid');
    return error.code;
  }
  throw new Error('expected the call to fail');
}

function fail(where, error) {
  report(where, error, { code: error?.code, data: error?.data });
}
