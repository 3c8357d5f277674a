using System.Collections.Concurrent;
using System.Threading.Channels;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Cards.Wire;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Callbacks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>Pacing and coalescing of streamed frames, on a fake clock: only advancing it lets the next frame go.</summary>
public sealed class CardTypewriterTests : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan TypingLimit = TimeSpan.FromSeconds(5);

    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly RecordingCardApi _api;
    private readonly ServiceProvider _services;

    public CardTypewriterTests()
    {
        _api = new RecordingCardApi(_clock);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<TimeProvider>(_clock);
        services.AddSingleton<ICardStore, DictionaryCardStore>();
        services.AddSingleton<IDingTalkCardApi>(_api);
        services.AddSingleton(Refit.RestService.For<IDingTalkRobotApi>("http://127.0.0.1:9")); // never called: advanced cards only
        services.AddOptions<DingTalkOptions>();
        services.Configure<HandlerOptions>(o =>
        {
            o.StreamFrameInterval = Interval;
            o.StreamTimeout = TypingLimit;
        });
        services.AddSingleton<CardSender>();
        services.AddSingleton<CardTypewriter>();
        _services = services.BuildServiceProvider();
    }

    public void Dispose() => _services.Dispose();

    [Fact]
    public async Task Frames_to_a_card_are_an_interval_apart_and_text_arriving_meanwhile_is_coalesced()
    {
        var source = Channel.CreateUnbounded<string>();
        var typing = Typewriter.TypeAsync(Context("card-1"), "content", source.Reader.ReadAllAsync(), CancellationToken.None);

        source.Writer.TryWrite("Hel");
        await Eventually.TrueAsync(() => _api.Frames.Count == 1, "the first frame, at once");
        source.Writer.TryWrite("lo, ");
        source.Writer.TryWrite("world");
        Assert.Single(_api.Frames);

        _clock.Advance(Interval);
        await Eventually.TrueAsync(() => _api.Frames.Count == 2, "the second frame, one interval later");
        source.Writer.Complete();
        _clock.Advance(Interval);
        await Eventually.TrueAsync(() => _api.Frames.Count == 3, "the final frame");
        _clock.Advance(Interval);
        await typing;

        var frames = _api.Frames.ToList();
        Assert.Equal(["Hel", "Hello, world", "Hello, world"], frames.Select(f => f.Request.Content));
        Assert.Equal([false, false, true], frames.Select(f => f.Request.IsFinalize));
        Assert.All(frames, f => Assert.True(f.Request.IsFull));
        Assert.Equal(frames.Count, frames.Select(f => f.Request.Guid).Distinct().Count());
        Assert.All(frames.Zip(frames.Skip(1)), pair => Assert.True(pair.Second.At - pair.First.At >= Interval));
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
        source.Writer.TryWrite(" reply");
        Assert.Equal(1, Typewriter.Typing);

        await stopping.CancelAsync();
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
        _clock.Advance(Interval);
        await Eventually.TrueAsync(() => _api.Frames.Count == 2, "the refused frame");
        await UntilDoneAsync(first);

        await UntilDoneAsync(Typewriter.TypeAsync(Context("card-5"), "content", new[] { "next" }.ToAsyncEnumerable(), CancellationToken.None));

        var frames = _api.Frames.ToList();
        var refused = frames.Single(f => f.Request.Content == "ab");
        var next = frames.First(f => f.Request.Content == "next");
        Assert.True(next.At - refused.At >= Interval, $"the next text's first frame came {(next.At - refused.At).TotalMilliseconds} ms after the refused one");
    }

    /// <summary>Lets fake time pass in small steps until <paramref name="typing"/> ends, however it ends.</summary>
    private async Task UntilDoneAsync(Task typing)
    {
        while (!typing.IsCompleted)
        {
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

    private sealed class RecordingCardApi(TimeProvider clock) : IDingTalkCardApi
    {
        public ConcurrentQueue<(DateTimeOffset At, StreamingUpdateRequest Request)> Frames { get; } = new();

        /// <summary>Frames DingTalk refuses (after they reached it, as every refused frame did).</summary>
        public Func<StreamingUpdateRequest, bool> Refuses { get; set; } = _ => false;

        public Task<BooleanResultResponse> StreamingUpdateAsync(StreamingUpdateRequest request, CancellationToken cancellationToken)
        {
            Frames.Enqueue((clock.GetUtcNow(), request));
            return Refuses(request)
                ? throw new DingTalkApiException(System.Net.HttpStatusCode.BadRequest, "param.invalid", "refused", "req-1")
                : Task.FromResult(new BooleanResultResponse(true, true));
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

        public Task ConfirmCreationAsync(string id, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task ForgetUnconfirmedAsync(string id, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<CardRecord?> ApplyUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken) =>
            Task.FromResult(_cards.TryGetValue(id, out var card) ? _cards[id] = change.ApplyTo(card, clock.GetUtcNow()) : null);
    }
}
