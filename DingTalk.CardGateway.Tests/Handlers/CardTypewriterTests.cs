using System.Collections.Concurrent;
using System.Threading.Channels;
using Dapper;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Cards.Wire;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>
/// Pacing and coalescing of streamed frames, on a fake clock: only advancing it lets the next frame go. The card's
/// typing lease is in a SQLite database of each test's own, where a second <see cref="SqlTypingLeases"/> plays another
/// replica.
/// </summary>
public sealed class CardTypewriterTests : IAsyncLifetime
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan TypingLimit = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(6); // renewed every 2 s: before the typing limit

    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly EarlyTimers _timers;
    private readonly SqliteStorageFixture _database = new();
    private readonly RecordingCardApi _api;
    private ServiceProvider _services = null!;

    public CardTypewriterTests()
    {
        _api = new RecordingCardApi(_clock);
        _timers = new EarlyTimers(_clock);
    }

    public async Task InitializeAsync()
    {
        await _database.InitializeAsync();
        var services = new ServiceCollection();
        services.AddFakeLogging();
        services.AddSingleton<TimeProvider>(_timers);
        services.AddSingleton<ICardStore, DictionaryCardStore>();
        services.AddSingleton<ITypingLeases>(Replica());
        services.AddSingleton<IDingTalkCardApi>(_api);
        services.AddSingleton(Refit.RestService.For<IDingTalkRobotApi>("http://127.0.0.1:9")); // never called: advanced cards only
        services.AddOptions<DingTalkOptions>();
        services.Configure<HandlerOptions>(o =>
        {
            o.StreamFrameInterval = Interval;
            o.StreamTimeout = TypingLimit;
            o.StreamLeaseDuration = LeaseDuration;
        });
        services.AddSingleton<CardSender>();
        services.AddSingleton<CardTypewriter>();
        _services = services.BuildServiceProvider();
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task Frames_to_a_card_are_an_interval_apart_and_text_arriving_meanwhile_is_coalesced()
    {
        var source = Channel.CreateUnbounded<string>();
        var typing = Typewriter.TypeAsync(Context("card-1"), "content", source.Reader.ReadAllAsync(), CancellationToken.None);

        source.Writer.TryWrite("Hel");
        await Eventually.TrueAsync(() => _api.Frames.Count == 1, "the first frame, at once");
        source.Writer.TryWrite("lo, ");
        source.Writer.TryWrite("world");
        // Both taken from the source before the interval passes (under load the typewriter's reader may lag behind).
        await Eventually.TrueAsync(() => source.Reader.Count == 0, "both chunks read");
        Assert.Single(_api.Frames);

        _clock.Advance(Interval);
        await Eventually.TrueAsync(() => _api.Frames.Count == 2, "the second frame, one interval later");

        var frames = await EndAsync(source, typing);
        Assert.Equal(["Hel", "Hello, world", "Hello, world"], frames.Select(f => f.Request.Content));
        Assert.Equal([false, false, true], frames.Select(f => f.Request.IsFinalize));
        Assert.All(frames, f => Assert.True(f.Request.IsFull));
        Assert.Equal(frames.Count, frames.Select(f => f.Request.Guid).Distinct().Count());
    }

    [Fact]
    public async Task A_timer_that_fires_a_little_early_does_not_let_a_frame_out_before_the_interval()
    {
        _timers.FireEarlyBy = TimeSpan.FromMilliseconds(1); // as the system's timers do: whole milliseconds, rounded down
        var source = Channel.CreateUnbounded<string>();
        var typing = Typewriter.TypeAsync(Context("card-early"), "content", source.Reader.ReadAllAsync(), CancellationToken.None);
        source.Writer.TryWrite("a");
        await Eventually.TrueAsync(() => _api.Frames.Count == 1, "the first frame, at once");
        source.Writer.TryWrite("b");
        await Eventually.TrueAsync(() => source.Reader.Count == 0, "the chunk read");
        await Eventually.TrueAsync(() => _timers.DueTimes.Contains(Interval), "the typewriter waiting out the interval");

        _clock.Advance(Interval - TimeSpan.FromMilliseconds(1)); // the interval's timer fires here, 1 ms early
        await Eventually.TrueAsync(() => _timers.Fired >= 1, "the early timer fired");
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.TrueAsync(() => _api.Frames.Count == 2, "the second frame, once the interval has truly passed");

        var frames = await EndAsync(source, typing);
        Assert.Equal(["a", "ab", "ab"], frames.Select(f => f.Request.Content));
    }

    [Theory]
    [InlineData("throws", "card-2")]
    [InlineData("times out", "card-3")] // an LLM client's HttpClient.Timeout: a TaskCanceledException nobody asked for, a failure of the source, not a shutdown
    public async Task A_text_source_that_fails_ends_the_stream_as_an_error_with_the_text_so_far(string how, string card)
    {
        var typing = Typewriter.TypeAsync(Context(card), "content", how == "throws" ? Failing() : TimingOut(), CancellationToken.None);

        while (!typing.IsCompleted)
        {
            _clock.Advance(Interval);
            await Task.Delay(5);
        }

        await typing;
        var last = _api.Frames.Last().Request;
        Assert.True(last.IsFinalize && last.IsError);
        Assert.Equal("partial", last.Content);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_text_source_that_never_ends_is_finalised_as_an_error_at_the_time_limit_and_frees_the_card(bool heedsCancellation)
    {
        var typing = Typewriter.TypeAsync(Context("card-4"), "content", Stalling(heedsCancellation), CancellationToken.None);
        await Eventually.TrueAsync(() => _api.Frames.Count == 1, "the first frame");

        for (var step = 0; step < 4 * TypingLimit / Interval && !typing.IsCompleted; step++)
        {
            _clock.Advance(Interval);
            await Task.Delay(5);
        }

        Assert.True(typing.IsCompleted, "the typing ended at its time limit");
        await typing;
        var last = _api.Frames.Last().Request;
        Assert.True(last.IsFinalize && last.IsError);
        Assert.Equal("partial", last.Content);

        // The next question on the card is typed.
        var next = Typewriter.TypeAsync(Context("card-4"), "content", new[] { "next" }.ToAsyncEnumerable(), CancellationToken.None);
        while (!next.IsCompleted)
        {
            _clock.Advance(Interval);
            await Task.Delay(5);
        }

        await next;
        Assert.Equal(("next", true, false), (_api.Frames.Last().Request.Content, _api.Frames.Last().Request.IsFinalize, _api.Frames.Last().Request.IsError));
    }

    [Fact]
    public async Task A_text_cut_off_by_the_gateway_stopping_is_finalised_as_an_error_with_the_text_so_far()
    {
        await _services.GetRequiredService<ICardStore>().SaveAsync(new CardRecord { Id = "card-6", Kind = CardKind.Advanced, TemplateId = "tpl" }, CancellationToken.None);
        var source = Channel.CreateUnbounded<string>();
        using var stopping = new CancellationTokenSource();
        var typing = Typewriter.TypeAsync(Context("card-6"), "content", source.Reader.ReadAllAsync(), stopping.Token);
        source.Writer.TryWrite("half a");
        await Eventually.TrueAsync(() => _api.Frames.Count == 1, "the first frame");
        Assert.Equal(1, Typewriter.Typing);

        await stopping.CancelAsync();
        source.Writer.TryWrite(" reply"); // after the stop: not read (written before it, the source's reader might take it first)
        var drain = Typewriter.DrainAsync(CancellationToken.None);
        while (!typing.IsCompleted)
        {
            _clock.Advance(Interval / 5); // the last frame keeps the card's pace
            await Task.Delay(5);
        }

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => typing); // stopped, as it was told

        await drain.WaitAsync(TimeSpan.FromSeconds(30));
        var last = _api.Frames.Last().Request;
        Assert.True(last.IsFinalize && last.IsError, "the last frame ends the text, as an error");
        Assert.Equal("half a", last.Content); // what was typed when the stop came: chunks after it are not read
        Assert.Equal(0, Typewriter.Typing);
        Assert.Equal("half a", (await _services.GetRequiredService<ICardStore>().FindAsync("card-6", CancellationToken.None))?.PublicData.GetValueOrDefault("content"));
        Assert.NotNull(await Replica().TryTakeAsync("card-6", LeaseDuration, default)); // released: another replica types the next reply at once
    }

    /// <summary>
    /// A stop while the text's last frame is on its way (DingTalk slow to answer) cuts that frame off: it never reached
    /// DingTalk, so the card would show the text typing for ever. The stop's last frame goes instead, within its grace.
    /// </summary>
    [Fact]
    public async Task A_stop_while_the_last_frame_is_on_its_way_still_finalises_the_text()
    {
        var lastFrameSent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = 0;
        _api.Before = async (request, cancellationToken) =>
        {
            if (request.IsFinalize && Interlocked.Exchange(ref held, 1) == 0)
            {
                lastFrameSent.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken); // DingTalk has not answered when the stop comes
            }
        };
        using var stopping = new CancellationTokenSource();
        var typing = Typewriter.TypeAsync(Context("card-11"), "content", new[] { "a whole reply" }.ToAsyncEnumerable(), stopping.Token);
        for (var step = 0; !lastFrameSent.Task.IsCompleted; step++)
        {
            // Its one chunk may go as a frame of its own before the source's end is seen (a loaded machine): the last frame
            // then waits for the card's interval.
            Assert.True(step < 2_000, "the last frame was never sent");
            _clock.Advance(Interval / 5);
            await Task.Delay(5);
        }

        await stopping.CancelAsync();
        while (!typing.IsCompleted)
        {
            _clock.Advance(Interval / 5);
            await Task.Delay(5);
        }

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => typing);
        var frames = _api.Frames.Select(f => f.Request).ToArray(); // those that reached DingTalk: not the cut-off one
        Assert.Equal(("a whole reply", true, true), (frames[^1].Content, frames[^1].IsFinalize, frames[^1].IsError));
        Assert.Single(frames, f => f.IsFinalize);
    }

    /// <summary>
    /// A stop whose last frame DingTalk does not answer within the typewriter's grace (3 s) cannot end the text. That is a
    /// network failure the stop expects, not a bug: the line says it in words, without the cancellation's stack trace.
    /// </summary>
    [Fact]
    public async Task A_last_frame_DingTalk_does_not_answer_in_a_stop_is_logged_in_words_without_a_stack_trace()
    {
        await _services.GetRequiredService<ICardStore>().SaveAsync(new CardRecord { Id = "card-s", Kind = CardKind.Advanced, TemplateId = "tpl" }, CancellationToken.None);
        _api.Before = async (request, cancellationToken) =>
        {
            if (request.IsFinalize)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken); // DingTalk never answers it
            }
        };
        var source = Channel.CreateUnbounded<string>();
        using var stopping = new CancellationTokenSource();
        var typing = Typewriter.TypeAsync(Context("card-s"), "content", source.Reader.ReadAllAsync(), stopping.Token);
        source.Writer.TryWrite("half a");
        await Eventually.TrueAsync(() => _api.Frames.Count == 1, "the first frame");

        await stopping.CancelAsync();
        while (!typing.IsCompleted)
        {
            _clock.Advance(Interval / 5); // past the card's pace, then past the stop's grace
            await Task.Delay(5);
        }

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => typing);
        var line = Assert.Single(_services.GetRequiredService<FakeLogCollector>().GetSnapshot(), r => r.Id.Id == 6105);
        Assert.Null(line.Exception);
        Assert.Contains("no answer within 3 s", line.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_next_text_on_a_card_keeps_the_pace_after_a_frame_DingTalk_refused()
    {
        var source = Channel.CreateUnbounded<string>();
        _api.Refuses = frame => frame.Content == "ab";
        var first = Typewriter.TypeAsync(Context("card-5"), "content", source.Reader.ReadAllAsync(), CancellationToken.None);
        source.Writer.TryWrite("a");
        await Eventually.TrueAsync(() => _api.Frames.Count == 1, "the first frame");
        source.Writer.TryWrite("b");
        await UntilDoneAsync(first); // the fake time moves on until the refused frame ends that typing (a single step could come before the typewriter noted its first frame's time, and it would wait forever)

        await UntilDoneAsync(Typewriter.TypeAsync(Context("card-5"), "content", new[] { "next" }.ToAsyncEnumerable(), CancellationToken.None));

        var frames = _api.Frames.ToList();
        var refused = frames.Single(f => f.Request.Content == "ab");
        var next = frames.First(f => f.Request.Content == "next");
        Assert.True(next.At - refused.At >= Interval, $"the next text's first frame came {(next.At - refused.At).TotalMilliseconds} ms after the refused one");
    }

    [Fact]
    public async Task An_ask_on_a_card_another_replica_is_typing_into_waits_for_its_lease_and_keeps_its_pace()
    {
        var other = Replica();
        Assert.NotNull(await other.TryTakeAsync("card-7", LeaseDuration, default));

        var typing = Typewriter.TypeAsync(Context("card-7"), "content", new[] { "mine" }.ToAsyncEnumerable(), CancellationToken.None);
        await Eventually.TrueAsync(() => Logged(6112).Any(r => r.Message.Contains("card-7", StringComparison.Ordinal)), "the ask waiting for the other replica");
        for (var step = 0; step < 10; step++)
        {
            _clock.Advance(Interval / 5); // the other replica types on
            await Task.Delay(5);
        }

        var otherLastFrame = _clock.GetUtcNow();
        await other.ReleaseAsync("card-7", otherLastFrame, default);
        await UntilDoneAsync(typing);

        var frame = Assert.Single(_api.Frames);
        Assert.Equal("mine", frame.Request.Content);
        Assert.True(frame.At - otherLastFrame >= Interval, $"the first frame came {(frame.At - otherLastFrame).TotalMilliseconds} ms after the other replica's last");
    }

    [Fact]
    public async Task A_lease_left_by_a_crashed_replica_is_taken_over_once_it_expires_keeping_the_pace()
    {
        // The replica died just after a frame, its lease 2 s from running out.
        var expires = _clock.GetUtcNow() + TimeSpan.FromSeconds(2);
        var lastFrame = expires - TimeSpan.FromMilliseconds(100);
        await using (var connection = await _database.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default))
        {
            await connection.ExecuteAsync(
                "INSERT INTO typing_leases (card_id, owner, until_at, last_frame_at) VALUES ('card-8', 'crashed-replica', @until, @lastFrame)",
                new { until = expires.ToUnixTimeMilliseconds(), lastFrame = lastFrame.ToUnixTimeMilliseconds() });
        }

        await UntilDoneAsync(Typewriter.TypeAsync(Context("card-8"), "content", new[] { "after the crash" }.ToAsyncEnumerable(), CancellationToken.None));

        // One final frame; or, when the source's end (on a pool thread) comes after the first frame was read on a loaded
        // machine, that frame and a final one: the fake clock runs on while the pool is slow.
        var frames = _api.Frames.ToArray();
        Assert.All(frames, f => Assert.Equal("after the crash", f.Request.Content));
        Assert.True(frames[^1].Request.IsFinalize);
        Assert.InRange(frames.Length, 1, 2);
        var frame = frames[0];
        Assert.True(frame.At > expires, $"typed at {frame.At:HH:mm:ss.fff}, before the crashed replica's lease ran out at {expires:HH:mm:ss.fff}");
        Assert.True(frame.At - lastFrame >= Interval, $"the first frame came {(frame.At - lastFrame).TotalMilliseconds} ms after the crashed replica's last");
    }

    [Fact]
    public async Task An_ask_whose_card_stays_taken_past_the_typing_limit_and_a_lease_gives_up_with_a_warning()
    {
        Assert.NotNull(await Replica().TryTakeAsync("card-9", TimeSpan.FromDays(1), default)); // a replica that keeps it

        var typing = Typewriter.TypeAsync(Context("card-9"), "content", new[] { "never typed" }.ToAsyncEnumerable(), CancellationToken.None);
        for (var step = 0; step < 4 * (TypingLimit + LeaseDuration) / Interval && !typing.IsCompleted; step++)
        {
            _clock.Advance(Interval);
            await Task.Delay(5);
        }

        Assert.True(typing.IsCompleted, "the ask still waits");
        await typing;
        Assert.Empty(_api.Frames);
        var gaveUp = Assert.Single(Logged(6107));
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, gaveUp.Level);
        Assert.Contains("card-9", gaveUp.Message, StringComparison.Ordinal);
        Assert.Contains("11 s", gaveUp.Message, StringComparison.Ordinal); // the typing limit and a lease
    }

    [Fact]
    public async Task Typing_stops_without_another_frame_once_another_replica_has_taken_the_card_over()
    {
        var source = Channel.CreateUnbounded<string>();
        var typing = Typewriter.TypeAsync(Context("card-10"), "content", source.Reader.ReadAllAsync(), CancellationToken.None);
        source.Writer.TryWrite("Hel");
        await Eventually.TrueAsync(() => _api.Frames.Count == 1, "the first frame");

        // This replica's renewals did not reach the database until its lease ran out, and another replica took the card.
        await using (var connection = await _database.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default))
        {
            await connection.ExecuteAsync("UPDATE typing_leases SET owner = 'another-replica', until_at = @until WHERE card_id = 'card-10'", new { until = (_clock.GetUtcNow() + TimeSpan.FromDays(1)).ToUnixTimeMilliseconds() });
        }

        for (var step = 0; step < 2 * LeaseDuration / Interval && !typing.IsCompleted; step++)
        {
            _clock.Advance(Interval);
            await Task.Delay(5);
        }

        Assert.True(typing.IsCompleted, "the typing goes on");
        await typing;
        source.Writer.TryWrite("lo");
        Assert.Equal(["Hel"], _api.Frames.Select(f => f.Request.Content)); // not even a last frame: it would overwrite the other replica's text
        Assert.Contains("card-10", Assert.Single(Logged(6108)).Message, StringComparison.Ordinal);
        Assert.Null(await Replica().TryTakeAsync("card-10", LeaseDuration, default)); // still the other replica's: the release left it alone
    }

    /// <summary>
    /// A text that has sent its last frame has ended, however long it then takes to store its text and let the card go
    /// (a slow database): a frame from outside it waits for the card and goes at its pace, not refused as if the text
    /// were still typing.
    /// </summary>
    [Fact]
    public async Task A_frame_after_a_texts_last_frame_goes_at_the_cards_pace_however_long_the_text_takes_to_let_the_card_go()
    {
        var cards = (DictionaryCardStore)_services.GetRequiredService<ICardStore>();
        await cards.SaveAsync(new CardRecord { Id = "card-11", Kind = CardKind.Advanced, TemplateId = "tpl" }, CancellationToken.None);
        var storing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cards.BeforeUpdate = _ =>
        {
            storing.TrySetResult();
            return stored.Task;
        };
        var source = Channel.CreateUnbounded<string>();
        source.Writer.TryWrite("The whole reply");
        source.Writer.Complete();
        var typing = Typewriter.TypeAsync(Context("card-11"), "content", source.Reader.ReadAllAsync(), CancellationToken.None);
        // The reply may reach the typewriter before its end does (two frames, the last an interval after the first): fake
        // time passes until its last frame is sent and its text is being stored.
        for (var step = 0; !storing.Task.IsCompleted; step++)
        {
            Assert.True(step < 2_000, "the text was not stored within 200 s of fake time");
            _clock.Advance(Interval / 5);
            await Task.Delay(5);
        }

        var last = _api.Frames.Last();
        Assert.True(last.Request.IsFinalize);

        DateTimeOffset? sentAt = null;
        var frame = Typewriter.SendFrameAsync("card-11", _ => Task.FromResult(sentAt = _clock.GetUtcNow()), CancellationToken.None);
        _clock.Advance(3 * Interval); // the text still holds the card, storing its text, well past its last frame
        stored.SetResult();

        Assert.Equal(FrameTurn.Sent, await frame.WaitAsync(TimeSpan.FromSeconds(30)));
        await typing;
        Assert.True(sentAt - last.At >= Interval);
    }

    /// <summary>Lets fake time pass in small steps until <paramref name="typing"/> ends, however it ends.</summary>
    private async Task UntilDoneAsync(Task typing)
    {
        for (var step = 0; !typing.IsCompleted; step++)
        {
            Assert.True(step < 2_000, "the typing did not end within 200 s of fake time");
            _clock.Advance(Interval / 5);
            await Task.Delay(5);
        }

        try
        {
            await typing;
        }
        catch (DingTalkApiException)
        {
            // the refused frame ends that typing
        }
    }

    private CardTypewriter Typewriter => _services.GetRequiredService<CardTypewriter>();

    /// <summary>
    /// Ends the source, lets the final frame go and the typing end; the frames, checked to be an interval apart. Time moves
    /// an interval at a time until each comes: a single move could come before the typewriter set the timer it waits on
    /// (under load), which would then wait forever — the pacing itself is what the frames' times check.
    /// </summary>
    private async Task<List<(DateTimeOffset At, StreamingUpdateRequest Request)>> EndAsync(Channel<string> source, Task typing)
    {
        var sent = _api.Frames.Count;
        source.Writer.Complete();
        await MoveTimeUntilAsync(() => _api.Frames.Count > sent, "the final frame");
        Assert.Equal(sent + 1, _api.Frames.Count);
        await MoveTimeUntilAsync(() => typing.IsCompleted, "the typing's end");
        await typing;

        var frames = _api.Frames.ToList();
        Assert.All(frames.Zip(frames.Skip(1)), pair => Assert.True(pair.Second.At - pair.First.At >= Interval, $"frames {(pair.Second.At - pair.First.At).TotalMilliseconds} ms apart"));
        return frames;
    }

    private async Task MoveTimeUntilAsync(Func<bool> done, string what)
    {
        for (var step = 0; step < 1000 && !done(); step++)
        {
            _clock.Advance(Interval);
            await Task.Delay(5);
        }

        Assert.True(done(), $"{what} did not come");
    }

    /// <summary>The leases of another gateway process on the same database (the typewriter's own is one more of these).</summary>
    private SqlTypingLeases Replica() => new(
        _database.Services.GetRequiredService<GatewayDatabase>(), _database.Services.GetRequiredService<SqliteWriteBatcher>(), _clock);

    private IReadOnlyList<FakeLogRecord> Logged(int eventId) =>
        _services.GetRequiredService<FakeLogCollector>().GetSnapshot().Where(r => r.Id.Id == eventId).ToList();

    /// <summary>An LLM stream that stalls after its first words, with or without heeding its cancellation token.</summary>
    private static async IAsyncEnumerable<string> Stalling(bool heedsCancellation, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        yield return "partial";
        await Task.Delay(Timeout.Infinite, heedsCancellation ? cancellationToken : CancellationToken.None);
        yield return "never";
    }

    private static async IAsyncEnumerable<string> TimingOut()
    {
        yield return "partial";
        await Task.Yield();
        throw new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout of 100 seconds elapsing.");
    }

    private static async IAsyncEnumerable<string> Failing()
    {
        yield return "partial";
        await Task.Yield();
        throw new InvalidOperationException("the LLM went away");
    }

    private static CardActionContext Context(string cardId) => CardActionContext.From(new CardAction
    {
        CallbackId = "cb",
        Transport = CallbackTransport.Http,
        Type = CardActionType.ActionCallback,
        CardId = cardId,
        OutTrackId = cardId,
        UserId = "u1",
        Params = System.Text.Json.JsonDocument.Parse("{}").RootElement,
    }, card: null);

    /// <summary>The fake clock, but its timers fire <see cref="FireEarlyBy"/> before they are due (never sooner than 1 ms).</summary>
    private sealed class EarlyTimers(FakeTimeProvider clock) : TimeProvider
    {
        private int _fired;

        public TimeSpan FireEarlyBy { get; set; }

        /// <summary>When each timer asked for was due (before this made it early).</summary>
        public ConcurrentQueue<TimeSpan> DueTimes { get; } = new();

        /// <summary>How many timers fired early.</summary>
        public int Fired => Volatile.Read(ref _fired);

        public override DateTimeOffset GetUtcNow() => clock.GetUtcNow();

        public override long GetTimestamp() => clock.GetTimestamp();

        public override long TimestampFrequency => clock.TimestampFrequency;

        public override TimeZoneInfo LocalTimeZone => clock.LocalTimeZone;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            DueTimes.Enqueue(dueTime);
            if (FireEarlyBy <= TimeSpan.Zero || dueTime - FireEarlyBy < TimeSpan.FromMilliseconds(1))
            {
                return clock.CreateTimer(callback, state, dueTime, period);
            }

            return clock.CreateTimer(
                s =>
                {
                    Interlocked.Increment(ref _fired);
                    callback(s);
                },
                state,
                dueTime - FireEarlyBy,
                period);
        }
    }

    private sealed class RecordingCardApi(TimeProvider clock) : IDingTalkCardApi
    {
        public ConcurrentQueue<(DateTimeOffset At, StreamingUpdateRequest Request)> Frames { get; } = new();

        /// <summary>Frames DingTalk refuses (after they reached it, as every refused frame did).</summary>
        public Func<StreamingUpdateRequest, bool> Refuses { get; set; } = _ => false;

        /// <summary>Awaited before a frame reaches DingTalk: a call that hangs until its token is cancelled, say.</summary>
        public Func<StreamingUpdateRequest, CancellationToken, Task> Before { get; set; } = (_, _) => Task.CompletedTask;

        public async Task<BooleanResultResponse> StreamingUpdateAsync(StreamingUpdateRequest request, CancellationToken cancellationToken)
        {
            await Before(request, cancellationToken);
            Frames.Enqueue((clock.GetUtcNow(), request));
            return Refuses(request)
                ? throw new DingTalkApiException(System.Net.HttpStatusCode.BadRequest, "param.invalid", "refused", "req-1")
                : new BooleanResultResponse(true, true);
        }

        public Task<CreateAndDeliverResponse> CreateAndDeliverAsync(CreateAndDeliverRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<CreateCardResponse> CreateAsync(CreateCardRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<DeliverCardResponse> DeliverAsync(DeliverCardRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<BooleanResultResponse> UpdateAsync(UpdateCardRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<RegisterCallbackResponse> RegisterCallbackAsync(RegisterCallbackRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    /// <summary>Cards in a dictionary: this test is about pacing, not storage (the SQL stores have their own tests).</summary>
    private sealed class DictionaryCardStore(TimeProvider clock) : ICardStore
    {
        private readonly ConcurrentDictionary<string, CardRecord> _cards = new();

        public Task SaveAsync(CardRecord card, CancellationToken cancellationToken)
        {
            _cards[card.Id] = card;
            return Task.CompletedTask;
        }

        public Task<CardRecord?> FindAsync(string id, CancellationToken cancellationToken) => Task.FromResult(_cards.GetValueOrDefault(id));

        public Task<CardRecord?> TryAddUnconfirmedAsync(CardRecord card, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task ConfirmCreationAsync(CardRecord card, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task ForgetUnconfirmedAsync(string id, CancellationToken cancellationToken) => throw new NotSupportedException();

        /// <summary>Awaited before an update is stored: a slow database, say.</summary>
        public Func<string, Task> BeforeUpdate { get; set; } = _ => Task.CompletedTask;

        public async Task<CardRecord?> ApplyUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken)
        {
            await BeforeUpdate(id);
            return _cards.TryGetValue(id, out var card) ? _cards[id] = change.ApplyTo(card, clock.GetUtcNow()) : null;
        }

        public Task<CardRecord?> ApplyLastUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken) => ApplyUpdateAsync(id, change, cancellationToken);
    }
}
