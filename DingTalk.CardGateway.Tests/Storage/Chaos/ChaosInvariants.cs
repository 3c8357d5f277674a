using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.Sandbox;
using DingTalk.Sandbox.Stream;

namespace DingTalk.CardGateway.Tests.Storage.Chaos;

/// <summary>
/// What must hold once the chaos is over: every click answered with JSON (never a 5xx; over Stream, every frame answered
/// 200 with its clicker's part in <c>response</c>, and no answer DingTalk would refuse), counted exactly once, each poll
/// showing — at DingTalk and in the gateway's store — the tally of each voter's last vote, the approval decided once,
/// and no card's updates at DingTalk ever going backwards.
/// </summary>
/// <param name="strictOrder">
/// False where a replica is frozen past its outbox lease: the gateway cannot yet stop a replica that wakes up mid-send from
/// sending an older update after the replica that took the card over sent a newer one (see <see cref="Overtaken"/>); the
/// card must still end showing the latest.
/// </param>
internal sealed class ChaosInvariants(ChaosPlan plan, ChaosTraffic traffic, ChaosReplicas replicas, SandboxState dingTalk, bool strictOrder)
{
    private const string Update = "/v1.0/card/instances";
    private readonly List<string> _broken = [];
    private readonly Dictionary<string, string> _outcomes = new(StringComparer.Ordinal);

    /// <summary>How many clicks the gateway answered <c>{}</c> past their budget (counted all the same).</summary>
    public int Overran => _outcomes.Values.Count(o => o == nameof(CallbackOutcome.Overran));

    /// <summary>Updates DingTalk took after a newer one of the same card (a known gap where replicas freeze: see the constructor).</summary>
    public List<string> Overtaken { get; } = [];

    public async Task HoldAsync()
    {
        CheckAnswers();
        CheckFrames();
        await SettledAsync();
        foreach (var poll in plan.Polls)
        {
            await CheckPollAsync(poll);
        }

        await CheckApprovalAsync();
        CheckVotesAnswered();
        Assert.True(_broken.Count == 0, $"Seed {plan.Seed} (replay with {ChaosPlan.SeedVariable}={plan.Seed}) broke {_broken.Count} invariant(s):\n{string.Join('\n', _broken.Take(40))}\nGateway logs:\n{replicas.Logs()}");
    }

    private void CheckAnswers()
    {
        foreach (var answer in traffic.Answers)
        {
            if (answer.Status != 200 || answer.MediaType != "application/json" || !IsJsonObject(answer.Text))
            {
                _broken.Add($"{answer.Click} ({answer.Send}) was answered {answer.Status} {answer.MediaType}: {answer.Text}");
            }
        }

    }

    /// <summary>
    /// Over Stream, every card callback frame DingTalk pushed ended answered (so it is pushed no more), every answer it got
    /// said 200 — DingTalk takes any other code as the answer too — and nothing the gateway sent was refused as malformed.
    /// Over HTTP no frame is pushed, and none is answered.
    /// </summary>
    private void CheckFrames()
    {
        foreach (var frame in dingTalk.Stream.Messages.Where(m => m.Topic == StreamProtocol.CardCallbackTopic))
        {
            if (!frame.IsSettled || frame.Answers.Any(a => a.Code != 200))
            {
                _broken.Add($"frame {frame.MessageId} ({frame.Data}) pushed {frame.Deliveries} times was answered [{string.Join(", ", frame.Answers.Select(a => $"{a.Code} on connection {a.ConnectionId}"))}]");
            }
        }

        foreach (var error in dingTalk.Stream.ProtocolErrors)
        {
            _broken.Add($"DingTalk refused what connection {error.ConnectionId} sent for {error.MessageId}: {error.Problem} ({error.RawText})");
        }
    }

    /// <summary>
    /// Each vote's answers show its clicker their vote — but for a twin still running, answered <c>{}</c>, and a click the
    /// gateway answered <c>{}</c> past <c>HandlerBudget</c> (recorded <see cref="CallbackOutcome.Overran"/>: on a machine
    /// starved of CPU a click can wait that long for a connection or a frozen replica's row lock; its vote still counts).
    /// </summary>
    private void CheckVotesAnswered()
    {
        foreach (var click in traffic.Answers.Where(a => a.Click.Option is not null).GroupBy(a => a.Click))
        {
            var mine = click.Select(a => MyVote(a.Text)).ToList();
            var answeredEmpty = _outcomes.GetValueOrDefault(click.Key.CallbackId()) == nameof(CallbackOutcome.Overran) && mine.All(v => v == "");
            if ((!mine.Contains(click.Key.Option) && !answeredEmpty) || mine.Any(v => v != click.Key.Option && v != ""))
            {
                _broken.Add($"{click.Key}: answers showed myVote [{string.Join(", ", mine)}], expected {click.Key.Option} (or {{}} for a twin still running, or for a click recorded Overran)");
            }
        }
    }

    /// <summary>Waits, with DingTalk healthy again, until every card's outbox is empty and DingTalk shows what the gateway stored.</summary>
    private async Task SettledAsync()
    {
        var cards = plan.Polls.Append(plan.Approval).ToList();
        await Eventually.TrueAsync(
            async () =>
            {
                foreach (var card in cards)
                {
                    var (stored, undelivered, _) = await ReadAsync(card);
                    if (undelivered.GetArrayLength() > 0 || !SameShown(stored, dingTalk.FindCard(card)?.CardData))
                    {
                        return false;
                    }
                }

                return true;
            },
            async () =>
            {
                var lines = new List<string>();
                foreach (var card in cards)
                {
                    var (stored, undelivered, _) = await ReadAsync(card);
                    lines.Add($"{card}: stored {Shown(stored)}, DingTalk shows {Shown(dingTalk.FindCard(card)?.CardData)}, undelivered {undelivered.GetRawText()}");
                }

                return $"seed {plan.Seed}: every outbox drained and DingTalk showing the stored cards\n{string.Join('\n', lines)}\nGateway logs:\n{replicas.Logs()}";
            },
            TimeSpan.FromSeconds(45));
    }

    private async Task CheckPollAsync(string poll)
    {
        var last = plan.LastVotes(poll);
        var expected = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["total"] = Text(last.Count) };
        foreach (var option in plan.OptionsEverChosen(poll))
        {
            expected[$"votes_{option}"] = Text(last.Values.Count(v => v == option));
        }

        var (stored, _, callbacks) = await ReadAsync(poll);
        Expect(poll, "the tally of each voter's last vote", expected, "DingTalk's card", Shown(dingTalk.FindCard(poll)?.CardData));
        Expect(poll, "the tally of each voter's last vote", expected, "the stored card", Shown(stored));
        CheckCallbacks(poll, callbacks);

        // Each update DingTalk took is a whole, consistent tally, and voters are never fewer than in the one before.
        var previous = -1;
        foreach (var update in Applied(poll))
        {
            var total = int.Parse(update["total"], CultureInfo.InvariantCulture);
            var votes = update.Where(kv => kv.Key.StartsWith("votes_", StringComparison.Ordinal)).Select(kv => int.Parse(kv.Value, CultureInfo.InvariantCulture)).ToList();
            if (votes.Sum() != total || votes.Any(v => v < 0))
            {
                _broken.Add($"{poll}: DingTalk took an inconsistent tally {Shown(update)}");
            }

            if (total < previous)
            {
                (strictOrder ? _broken : Overtaken).Add($"{poll}: DingTalk took total {total} after total {previous}: an older update overtook a newer one");
            }

            previous = Math.Max(previous, total);
        }
    }

    private async Task CheckApprovalAsync()
    {
        var card = plan.Approval;
        var (stored, _, callbacks) = await ReadAsync(card);
        var shown = dingTalk.FindCard(card)?.CardData;
        var status = shown?.GetValueOrDefault("status");
        var decidedBy = shown?.GetValueOrDefault("decidedBy");
        var clicks = plan.Clicks.Where(c => c.Card == card).ToList();
        if (!clicks.Any(c => c.User == decidedBy && (c.Action == "approve" ? "approved" : "rejected") == status))
        {
            _broken.Add($"{card}: DingTalk shows {status} by {decidedBy}, which no approver clicked");
        }

        if (stored.TryGetProperty("status", out var storedStatus) is false || storedStatus.GetString() != status
            || stored.TryGetProperty("decidedBy", out var storedBy) is false || storedBy.GetString() != decidedBy)
        {
            _broken.Add($"{card}: stored {stored.GetRawText()}, DingTalk shows {status} by {decidedBy}");
        }

        foreach (var update in Applied(card).Where(u => u.GetValueOrDefault("status") != status || u.GetValueOrDefault("decidedBy") != decidedBy))
        {
            _broken.Add($"{card}: DingTalk took {Shown(update)}, another decision than the final {status} by {decidedBy}");
        }

        foreach (var answer in traffic.Answers.Where(a => a.Click.Card == card && a.Text != "{}"))
        {
            var parameters = JsonDocument.Parse(answer.Text).RootElement.GetProperty("cardData").GetProperty("cardParamMap");
            if (parameters.GetProperty("status").GetString() != status || parameters.GetProperty("decidedBy").GetString() != decidedBy)
            {
                _broken.Add($"{answer.Click} was answered {answer.Text}, another decision than {status} by {decidedBy}");
            }
        }

        // The deciding click's answer is the only one without a "notice" that it was decided already — unless the gateway
        // answered it {} past its budget (recorded Overran), when no recorded answer shows the decision.
        var deciders = callbacks.EnumerateArray().Where(c => c.GetProperty("answerJson").GetString() is { } a && a.Contains("status", StringComparison.Ordinal) && !a.Contains("notice", StringComparison.Ordinal)).ToList();
        var decidedPastBudget = deciders.Count == 0 && callbacks.EnumerateArray().Any(c => c.GetProperty("userId").GetString() == decidedBy
            && c.GetProperty("outcome").GetString() == nameof(CallbackOutcome.Overran));
        if (!decidedPastBudget && (deciders.Count != 1 || deciders[0].GetProperty("userId").GetString() != decidedBy))
        {
            _broken.Add($"{card}: the callbacks recorded as deciding are [{string.Join(", ", deciders.Select(d => d.GetProperty("userId").GetString()))}], expected exactly {decidedBy}");
        }

        CheckCallbacks(card, callbacks);
    }

    /// <summary>Each distinct click recorded once, handled (a card keeps its last 100 callbacks: the plan stays under that).</summary>
    private void CheckCallbacks(string card, JsonElement callbacks)
    {
        var recorded = callbacks.EnumerateArray().ToList();
        var clicks = plan.Clicks.Count(c => c.Card == card);
        if (clicks >= 100)
        {
            _broken.Add($"{card}: the plan has {clicks} clicks on it, more than the 100 callbacks GET /api/cards shows: use another seed or fewer voters");
        }
        else if (recorded.Count != clicks || recorded.Select(c => c.GetProperty("callbackId").GetString()).Distinct().Count() != clicks)
        {
            _broken.Add($"{card}: {recorded.Count} callbacks recorded for {clicks} distinct clicks");
        }

        foreach (var callback in recorded)
        {
            _outcomes[callback.GetProperty("callbackId").GetString()!] = callback.GetProperty("outcome").GetString()!;
        }

        foreach (var callback in recorded.Where(c => c.GetProperty("outcome").GetString() is not (nameof(CallbackOutcome.Handled) or nameof(CallbackOutcome.Overran))))
        {
            _broken.Add($"{card}: callback {callback.GetProperty("callbackId").GetString()} of {callback.GetProperty("userId").GetString()} is {callback.GetProperty("outcome").GetString()}");
        }
    }

    /// <summary>The card data of every update DingTalk carried out for <paramref name="card"/>, in the order it did (a 504 here is an injected lost answer: carried out).</summary>
    private IEnumerable<IReadOnlyDictionary<string, string>> Applied(string card) =>
        dingTalk.RequestsTo(Update)
            .Where(r => r.Method == "PUT" && r.Status is 200 or 504)
            .Select(r => JsonDocument.Parse(r.Body).RootElement)
            .Where(body => body.GetProperty("outTrackId").GetString() == card)
            .Select(body => (IReadOnlyDictionary<string, string>)body.GetProperty("cardData").GetProperty("cardParamMap").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal))
            .ToList();

    private void Expect(string card, string whatName, IReadOnlyDictionary<string, string> what, string actualName, IReadOnlyDictionary<string, string> actual)
    {
        if (!what.OrderBy(kv => kv.Key, StringComparer.Ordinal).SequenceEqual(actual.OrderBy(kv => kv.Key, StringComparer.Ordinal)))
        {
            _broken.Add($"{card}: {actualName} shows {Format(actual)}, {whatName} is {Format(what)}");
        }
    }

    private async Task<(JsonElement PublicData, JsonElement Undelivered, JsonElement Callbacks)> ReadAsync(string card)
    {
        using var api = await replicas.AdminClientAsync();
        var state = await api.GetFromJsonAsync<JsonElement>($"/api/cards/{card}");
        return (state.GetProperty("card").GetProperty("publicData"), state.GetProperty("undelivered"), state.GetProperty("callbacks"));
    }

    /// <summary>The keys the handlers write (tallies, decision), whichever side they come from.</summary>
    private static SortedDictionary<string, string> Shown(IReadOnlyDictionary<string, string>? data) =>
        new((data ?? new Dictionary<string, string>()).Where(kv => IsShown(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal), StringComparer.Ordinal);

    private static SortedDictionary<string, string> Shown(JsonElement stored) =>
        Shown(stored.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal));

    private static bool SameShown(JsonElement stored, IReadOnlyDictionary<string, string>? atDingTalk) =>
        Shown(stored).SequenceEqual(Shown(atDingTalk));

    private static bool IsShown(string key) => key is "total" or "status" or "decidedBy" || key.StartsWith("votes_", StringComparison.Ordinal);

    private static string Format(IEnumerable<KeyValuePair<string, string>> data) => "{" + string.Join(", ", data.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}")) + "}";

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static bool IsJsonObject(string text)
    {
        try
        {
            return JsonDocument.Parse(text).RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The <c>myVote</c> an answer shows its clicker; "" for an answer without one (<c>{}</c>).</summary>
    private static string? MyVote(string text) =>
        IsJsonObject(text) && JsonDocument.Parse(text).RootElement.TryGetProperty("userPrivateData", out var data)
            ? data.GetProperty("cardParamMap").GetProperty("myVote").GetString()
            : "";
}
