using System.Text;
using BenchmarkDotNet.Attributes;
using DingTalk.CardGateway.Callbacks;

namespace DingTalk.CardGateway.Benchmarks;

/// <summary>What a callback costs before it reaches storage: checking DingTalk's signature and reading the body.</summary>
[MemoryDiagnoser]
public class CallbackBenchmarks
{
    private const string Secret = "bench-api-secret";
    private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;
    private string _timestamp = "";
    private string _signature = "";
    private byte[] _body = [];

    [GlobalSetup]
    public void Setup()
    {
        _timestamp = _now.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        _signature = CardCallbackSignature.Sign(_timestamp, Secret);
        _body = Encoding.UTF8.GetBytes(Votes.Body("bench-card", "u42", "A", 1));
    }

    [Benchmark]
    public SignatureCheck VerifySignature() => CardCallbackSignature.Verify(_timestamp, _signature, Secret, _now, TimeSpan.FromMinutes(5));

    [Benchmark]
    public bool ParseVote() => CardActionParser.TryParse(_body, CallbackTransport.Http, _timestamp, out _, out _);
}
