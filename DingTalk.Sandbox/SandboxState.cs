using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.Sandbox.State;
using DingTalk.Sandbox.Stream;
using DingTalk.Sandbox.Wire;
using Microsoft.AspNetCore.Http;

namespace DingTalk.Sandbox;

/// <summary>
/// Everything the fake DingTalk holds: issued tokens, cards, callback registrations, injected faults and a
/// log of every request. Thread-safe: each request is handled under one lock, and readers get snapshots.
/// </summary>
public sealed class SandboxState
{
    private readonly Lock _gate = new();
    private readonly Queue<ReceivedRequest> _requests = new();
    private readonly Dictionary<string, DateTimeOffset> _tokenExpiry = new(StringComparer.Ordinal);
    private readonly List<FaultRule> _faults = [];
    private readonly Dictionary<string, Queue<long>> _recentCalls = new(StringComparer.Ordinal);
    private string? _currentToken;
    private int _tokenRequests;
    private long _nextId;
    private long _changes;

    public SandboxState(SandboxOptions options, TimeProvider? timeProvider = null)
    {
        Options = options;
        Time = timeProvider ?? TimeProvider.System;
        Stream = new SandboxStream(this);
    }

    /// <summary>DingTalk's Stream mode side: tickets, WebSocket connections, pushed frames and their answers. <see cref="Reset"/> leaves it alone.</summary>
    public SandboxStream Stream { get; }

    /// <summary>The requests so far (the newest <see cref="SandboxOptions.RequestsKept"/>), in arrival order, with the status each got.</summary>
    public IReadOnlyList<ReceivedRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Token calls so far (<c>/v1.0/oauth2/accessToken</c> and <c>/gettoken</c>), successful or not.</summary>
    public int TokenRequests
    {
        get
        {
            lock (_gate)
            {
                return _tokenRequests;
            }
        }
    }

    public IReadOnlyCollection<SandboxCard> Cards
    {
        get
        {
            lock (_gate)
            {
                return [.. CardRecords.Values.OrderBy(c => c.CreatedAt).Select(c => c.Snapshot())];
            }
        }
    }

    public IReadOnlyCollection<SandboxRobotCard> RobotCards
    {
        get
        {
            lock (_gate)
            {
                return [.. RobotCardRecords.Values.Select(c => c.Snapshot())];
            }
        }
    }

    /// <summary>Registered callback URLs by <c>callbackRouteKey</c>.</summary>
    public IReadOnlyDictionary<string, RegisteredCallback> Callbacks
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<string, RegisteredCallback>(CallbackMap, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>
    /// DingTalk's sources say a route key mapped to another URL keeps its mapping without <c>forceUpdate</c>; they do not
    /// say whether one mapped to the same URL with another apiSecret does. Off (the default), the sandbox takes the new
    /// secret then; on, it keeps any mapping it is not told to overwrite and answers it, the stricter reading.
    /// <see cref="Reset"/> turns it off.
    /// </summary>
    public bool KeepsRegistrationsWithoutForceUpdate { get; set; }

    internal SandboxOptions Options { get; }

    internal TimeProvider Time { get; }

    internal Dictionary<string, CardRecord> CardRecords { get; } = new(StringComparer.Ordinal);

    internal Dictionary<string, RobotCardRecord> RobotCardRecords { get; } = new(StringComparer.Ordinal);

    internal Dictionary<string, RegisteredCallback> CallbackMap { get; } = new(StringComparer.Ordinal);

    /// <summary>Requests whose path after the mount prefix is exactly <paramref name="pathSuffix"/>, any method.</summary>
    public IReadOnlyList<ReceivedRequest> RequestsTo(string pathSuffix)
    {
        lock (_gate)
        {
            return [.. _requests.Where(r => r.Path == pathSuffix)];
        }
    }

    public SandboxCard? FindCard(string outTrackId)
    {
        lock (_gate)
        {
            return CardRecords.TryGetValue(outTrackId, out var card) ? card.Snapshot() : null;
        }
    }

    /// <summary>What the card shows for <paramref name="key"/> after its streaming frames; null if the card or the frames are missing.</summary>
    public string? StreamingText(string outTrackId, string key) => FindCard(outTrackId)?.StreamingText(key);

    public SandboxRobotCard? FindRobotCard(string cardBizId)
    {
        lock (_gate)
        {
            return RobotCardRecords.TryGetValue(cardBizId, out var card) ? card.Snapshot() : null;
        }
    }

    /// <summary>Maps a route key as if another deployment had registered it.</summary>
    public void RegisterCallbackDirectly(string routeKey, string url, string apiSecret)
    {
        lock (_gate)
        {
            CallbackMap[routeKey] = new RegisteredCallback(routeKey, url, apiSecret);
        }
    }

    /// <summary>Every token issued so far now answers 400 <c>InvalidAuthentication</c>; the next token call issues a new one.</summary>
    public void ExpireAllTokens()
    {
        lock (_gate)
        {
            _tokenExpiry.Clear();
            _currentToken = null;
        }
    }

    /// <summary>
    /// The next <paramref name="times"/> requests to <paramref name="method"/> + <paramref name="path"/> (path after
    /// the mount prefix) answer <paramref name="status"/> with DingTalk's error body, before any other check — only those
    /// whose body contains <paramref name="bodyContains"/> when it is given (one card's calls, say).
    /// </summary>
    public void FailNext(
        HttpMethod method, string path, int status, string code, string message = "injected", int times = 1, int? retryAfterSeconds = null, string? bodyContains = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(times);
        lock (_gate)
        {
            _faults.Add(new FaultRule(method.Method, path, status, code, message, times, retryAfterSeconds, bodyContains));
        }
    }

    /// <summary>
    /// The next <paramref name="times"/> requests to <paramref name="method"/> + <paramref name="path"/> are refused as
    /// DingTalk refuses an app that lacks a permission: 403 <c>Forbidden.AccessDenied.AccessTokenPermissionDenied</c> with
    /// <paramref name="requiredScopes"/> under <c>accessdenieddetail.requiredScopes</c> (only calls whose body contains
    /// <paramref name="bodyContains"/> when it is given).
    /// </summary>
    public void DenyPermissionNext(HttpMethod method, string path, IReadOnlyList<string> requiredScopes, int times = 1, string? bodyContains = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(times);
        ArgumentOutOfRangeException.ThrowIfZero(requiredScopes.Count);
        lock (_gate)
        {
            // Status, code and message come from SandboxAnswer.PermissionDenied, as DingTalk words them.
            _faults.Add(new FaultRule(method.Method, path, StatusCodes.Status403Forbidden, "", "", times, null, bodyContains) { RequiredScopes = [.. requiredScopes] });
        }
    }

    /// <summary>
    /// The next <paramref name="times"/> requests to <paramref name="method"/> + <paramref name="path"/> are carried out
    /// (a card is created, say), but their answer is lost on the way back: the caller gets <paramref name="status"/>
    /// with DingTalk's error body instead, as when DingTalk's front answers 504 after the call went through.
    /// </summary>
    public void LoseAnswerNext(HttpMethod method, string path, int status = StatusCodes.Status504GatewayTimeout, int times = 1, string? bodyContains = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(times);
        lock (_gate)
        {
            _faults.Add(new FaultRule(method.Method, path, status, "GatewayTimeout", "injected: the call went through, its answer was lost", times, null, bodyContains) { AfterRun = true });
        }
    }

    /// <summary>Forgets the faults injected with <see cref="FailNext"/>, <see cref="DenyPermissionNext"/> or <see cref="LoseAnswerNext"/> that have not fired yet.</summary>
    public void ClearFaults()
    {
        lock (_gate)
        {
            _faults.Clear();
        }
    }

    /// <summary>
    /// Counts every change to what <see cref="Export"/> holds (<see cref="CardsChanged"/>) and every <see cref="Reset"/> or
    /// <see cref="Import"/>: unchanged, nothing needs saving again. A call that changes no card (a token, a callback
    /// registration, a refusal, a frame sent again) leaves it as it was.
    /// </summary>
    public long Changes
    {
        get
        {
            lock (_gate)
            {
                return _changes;
            }
        }
    }

    /// <summary>The cards and robot cards as they are now, to keep across a restart (<see cref="Import"/>).</summary>
    public SandboxSnapshot Export()
    {
        lock (_gate)
        {
            return new SandboxSnapshot(
                [.. CardRecords.Values.OrderBy(c => c.CreatedAt).Select(c => c.Snapshot()).Select(c => new SandboxSnapshot.Card(
                    c.OutTrackId, c.CardTemplateId, c.CreatedAt, c.CallbackType, c.CallbackRouteKey, c.CardData, c.PrivateData, c.SpaceModels, c.OpenSpaceIds, c.Deliveries, c.StreamingFrames, c.UpdateCount))],
                [.. RobotCardRecords.Values.Select(c => new SandboxSnapshot.RobotCard(
                    c.CardBizId, c.CardTemplateId, c.RobotCode, c.CardData, c.CallbackUrl, c.OpenConversationId, c.SingleChatReceiver, c.UserIdPrivateDataMap, c.UnionIdPrivateDataMap, c.UpdateCount))]);
        }
    }

    /// <summary>Takes back the cards and robot cards of an <see cref="Export"/>, replacing any of the same id.</summary>
    public void Import(SandboxSnapshot snapshot)
    {
        lock (_gate)
        {
            foreach (var c in snapshot.Cards)
            {
                var card = new CardRecord(c.OutTrackId, c.CardTemplateId, c.CreatedAt)
                {
                    CallbackType = c.CallbackType,
                    CallbackRouteKey = c.CallbackRouteKey,
                    CardData = new Dictionary<string, string>(c.CardData, StringComparer.Ordinal),
                    UpdateCount = c.UpdateCount,
                };
                foreach (var (user, data) in c.PrivateData)
                {
                    card.PrivateData[user] = new Dictionary<string, string>(data, StringComparer.Ordinal);
                }

                card.SpaceModels.AddRange(c.SpaceModels);
                card.OpenSpaceIds.AddRange(c.OpenSpaceIds);
                card.Deliveries.AddRange(c.Deliveries);
                card.Frames.AddRange(c.StreamingFrames);
                card.FrameGuids.UnionWith(c.StreamingFrames.Select(f => f.Guid));
                CardRecords[c.OutTrackId] = card;
            }

            foreach (var r in snapshot.RobotCards)
            {
                RobotCardRecords[r.CardBizId] = new RobotCardRecord(r.CardBizId, r.CardTemplateId, r.RobotCode)
                {
                    CardData = r.CardData,
                    CallbackUrl = r.CallbackUrl,
                    OpenConversationId = r.OpenConversationId,
                    SingleChatReceiver = r.SingleChatReceiver,
                    UserIdPrivateDataMap = r.UserIdPrivateDataMap,
                    UnionIdPrivateDataMap = r.UnionIdPrivateDataMap,
                    UpdateCount = r.UpdateCount,
                };
            }

            _changes++;
        }
    }

    /// <summary>Forgets everything: requests, tokens, cards, registrations and pending faults (not <see cref="Stream"/>'s connections).</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _changes++;
            _requests.Clear();
            _tokenExpiry.Clear();
            _faults.Clear();
            _recentCalls.Clear();
            _currentToken = null;
            _tokenRequests = 0;
            CardRecords.Clear();
            RobotCardRecords.Clear();
            CallbackMap.Clear();
            KeepsRegistrationsWithoutForceUpdate = false;
        }
    }

    /// <summary>Answers one call: injected fault, then token check, then the API itself; and records it.</summary>
    internal SandboxAnswer Handle(SandboxCall call, SandboxRoute route)
    {
        lock (_gate)
        {
            if (route.IsTokenCall)
            {
                _tokenRequests++;
            }

            var fault = TakeFault(call);
            var answer = (fault is { AfterRun: false } ? fault.Answer() : null) ?? Throttle(call) ?? Authenticate(call, route) ?? Run(call, route);
            if (fault is { AfterRun: true } && answer.Status < 300)
            {
                answer = fault.Answer(); // carried out; the answer never reaches the caller
            }

            _requests.Enqueue(new ReceivedRequest(Time.GetUtcNow(), call.Method, call.Path, call.AccessToken, call.Body, answer.Status));
            while (_requests.Count > Math.Max(0, Options.RequestsKept))
            {
                _requests.Dequeue();
            }
            return answer;
        }
    }

    /// <summary>The app's token: the current one renewed if still alive (as DingTalk does), else a new one. Caller holds the lock.</summary>
    internal (string Token, int ExpiresInSeconds) IssueToken()
    {
        var now = Time.GetUtcNow();
        if (_currentToken is null || !_tokenExpiry.TryGetValue(_currentToken, out var expiry) || expiry <= now)
        {
            _currentToken = RandomNumberGenerator.GetHexString(32, lowercase: true);
        }

        _tokenExpiry[_currentToken] = now + Options.TokenLifetime;
        return (_currentToken, (int)Options.TokenLifetime.TotalSeconds);
    }

    /// <summary>
    /// What DingTalk does with a click's answer: the update in it is shown to the clicking user alone — its
    /// <c>userPrivateData</c> and its <c>cardData</c> both, merged by key as its <c>cardUpdateOptions</c> say (replaced
    /// otherwise) — so it is kept with the clicker's private data, where the page shows it. An answer that is not an
    /// update (<c>{}</c>, an error, not JSON) changes nothing.
    /// </summary>
    public void ApplyClickerAnswer(string outTrackId, string userId, JsonNode? answer)
    {
        if (answer is not JsonObject update)
        {
            return;
        }

        var options = update["cardUpdateOptions"] as JsonObject;
        lock (_gate)
        {
            if (!CardRecords.TryGetValue(outTrackId, out var card))
            {
                return;
            }

            var changed = false;
            foreach (var (part, byKey) in new[] { ("userPrivateData", "updatePrivateDataByKey"), ("cardData", "updateCardDataByKey") })
            {
                if ((update[part] as JsonObject)?["cardParamMap"] is JsonObject values)
                {
                    card.UpdatePrivateData(userId, values.ToDictionary(v => v.Key, v => v.Value is JsonValue text && text.GetValueKind() == JsonValueKind.String ? text.GetValue<string>() : v.Value?.ToJsonString() ?? ""), options?[byKey]?.GetValueKind() == JsonValueKind.True);
                    changed = true;
                }
            }

            if (changed)
            {
                CardsChanged();
            }
        }
    }

    /// <summary>A card or robot card was created, delivered, updated or streamed into: <see cref="Export"/> changed. Caller holds the lock.</summary>
    internal void CardsChanged() => _changes++;

    /// <summary>A fresh id for carriers and process query keys. Caller holds the lock.</summary>
    internal string NextId(string prefix) => $"{prefix}{++_nextId:D6}";

    private FaultRule? TakeFault(SandboxCall call)
    {
        var fault = _faults.FirstOrDefault(f =>
            string.Equals(f.Method, call.Method, StringComparison.OrdinalIgnoreCase) && f.Path == call.Path
            && (f.BodyContains is null || call.Body.Contains(f.BodyContains, StringComparison.Ordinal)));
        if (fault is null)
        {
            return null;
        }

        if (--fault.Remaining == 0)
        {
            _faults.Remove(fault);
        }

        return fault;
    }

    /// <summary>DingTalk's QPS limit per app and API: a call beyond it in the last second is refused (and not counted). Caller holds the lock.</summary>
    private SandboxAnswer? Throttle(SandboxCall call)
    {
        if (Options.QpsLimitPerApi <= 0)
        {
            return null;
        }

        var key = call.Method.ToUpperInvariant() + " " + call.Path;
        if (!_recentCalls.TryGetValue(key, out var recent))
        {
            _recentCalls[key] = recent = new Queue<long>();
        }

        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        while (recent.Count > 0 && System.Diagnostics.Stopwatch.GetElapsedTime(recent.Peek(), now) >= TimeSpan.FromSeconds(1))
        {
            recent.Dequeue();
        }

        if (recent.Count >= Options.QpsLimitPerApi)
        {
            return SandboxAnswer.Error(
                StatusCodes.Status403Forbidden,
                "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
                $"The QPS limit of {Options.QpsLimitPerApi} per app for {call.Path} has been reached.");
        }

        recent.Enqueue(now);
        return null;
    }

    private SandboxAnswer? Authenticate(SandboxCall call, SandboxRoute route)
    {
        if (!route.NeedsToken)
        {
            return null;
        }

        if (call.AccessToken is null)
        {
            return SandboxAnswer.Error(
                StatusCodes.Status400BadRequest,
                "AuthenticationFailed.MissingParameter",
                $"header {SandboxCall.AccessTokenHeader} is mandatory for this action.");
        }

        return _tokenExpiry.TryGetValue(call.AccessToken, out var expiry) && expiry > Time.GetUtcNow()
            ? null
            : SandboxAnswer.Error(StatusCodes.Status400BadRequest, "InvalidAuthentication", "access token is invalid or expired");
    }

    private SandboxAnswer Run(SandboxCall call, SandboxRoute route)
    {
        try
        {
            return route.Handler(call, this);
        }
        catch (Exception)
        {
            // Only a sandbox bug lands here; the tests assert that no input produces it.
            return SandboxAnswer.Error(StatusCodes.Status500InternalServerError, "unknownError", "the sandbox failed on this request");
        }
    }
}
