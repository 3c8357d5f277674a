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
        services.Configure<HandlerOptions>(o => o.StreamFrameInterval = Interval);
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

    [Fact]
    public async Task A_failing_text_source_ends_the_stream_as_an_error_with_the_text_so_far()
    {
        var typing = Typewriter.TypeAsync(Context("card-2"), "content", Failing(), CancellationToken.None);

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

    private CardTypewriter Typewriter => _services.GetRequiredService<CardTypewriter>();

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

        public Task<BooleanResultResponse> StreamingUpdateAsync(StreamingUpdateRequest request, CancellationToken cancellationToken)
        {
            Frames.Enqueue((clock.GetUtcNow(), request));
            return Task.FromResult(new BooleanResultResponse(true, true));
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

        public Task<CardRecord?> ApplyUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken) =>
            Task.FromResult(_cards.TryGetValue(id, out var card) ? _cards[id] = change.ApplyTo(card, clock.GetUtcNow()) : null);
    }
}
