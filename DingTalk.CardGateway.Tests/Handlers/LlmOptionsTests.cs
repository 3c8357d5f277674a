using DingTalk.CardGateway.Handlers.Typewriter;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>
/// <c>Gateway:Handlers:Llm</c> is checked at startup as the other sections are: each problem one sentence naming its key
/// (as RunGatewayAsync prints it), never the API key's value.
/// </summary>
public class LlmOptionsTests
{
    private const string Key = "sk-llm-options-test-key-0123456789";

    [Theory]
    [InlineData("dashscope.aliyuncs.com/compatible-mode/v1")] // no scheme
    [InlineData("localhost:11434/v1")] // reads as a URL of scheme "localhost"
    [InlineData("ftp://models.example.com/v1")]
    public void An_endpoint_that_is_not_an_absolute_http_url_is_named(string endpoint)
    {
        var problem = Assert.Single(Problems(new() { ["Gateway:Handlers:Llm:Endpoint"] = endpoint, ["Gateway:Handlers:Llm:Model"] = "qwen-plus", ["Gateway:Handlers:Llm:ApiKey"] = Key }));

        Assert.StartsWith("Gateway:Handlers:Llm:Endpoint (Gateway__Handlers__Llm__Endpoint) must be an absolute http(s) URL", problem, StringComparison.Ordinal);
        Assert.Contains($"'{endpoint}'", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_endpoint_without_a_model_is_a_model_missing()
    {
        var problem = Assert.Single(Problems(new() { ["Gateway:Handlers:Llm:Endpoint"] = "https://dashscope.aliyuncs.com/compatible-mode/v1", ["Gateway:Handlers:Llm:ApiKey"] = Key }));

        Assert.StartsWith("Gateway:Handlers:Llm:Model (Gateway__Handlers__Llm__Model) is required with Gateway:Handlers:Llm:Endpoint", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_remote_endpoint_without_an_api_key_is_a_key_missing()
    {
        var problem = Assert.Single(Problems(new() { ["Gateway:Handlers:Llm:Endpoint"] = "https://api.deepseek.com/v1", ["Gateway:Handlers:Llm:Model"] = "deepseek-chat" }));

        Assert.StartsWith("Gateway:Handlers:Llm:ApiKey (Gateway__Handlers__Llm__ApiKey) is required with Gateway:Handlers:Llm:Endpoint at api.deepseek.com", problem, StringComparison.Ordinal);
    }

    /// <summary>Ollama, vLLM or any model on this machine is asked without a key.</summary>
    [Theory]
    [InlineData("http://localhost:11434/v1")]
    [InlineData("http://127.0.0.1:8000/v1")]
    [InlineData("http://[::1]:11434/v1")]
    public void A_model_on_this_machine_needs_no_api_key(string endpoint)
    {
        Assert.Empty(Problems(new() { ["Gateway:Handlers:Llm:Endpoint"] = endpoint, ["Gateway:Handlers:Llm:Model"] = "llama3.2" }));
    }

    /// <summary>appsettings.json leaves the keys empty: no model is configured then, and nothing else is required.</summary>
    [Fact]
    public void Empty_keys_configure_no_model_and_need_nothing()
    {
        Assert.Empty(Problems(new() { ["Gateway:Handlers:Llm:Endpoint"] = "", ["Gateway:Handlers:Llm:ApiKey"] = "", ["Gateway:Handlers:Llm:Model"] = "" }));
    }

    [Theory]
    [InlineData("Temperature", "2.5", "must be between 0 and 2")]
    [InlineData("MaxOutputTokens", "0", "must be between 1 and 1000000")]
    public void A_value_out_of_range_is_named_by_its_key(string key, string value, string says)
    {
        var problem = Assert.Single(Problems(new() { [$"Gateway:Handlers:Llm:{key}"] = value }));

        Assert.Equal($"Gateway:Handlers:Llm:{key} (Gateway__Handlers__Llm__{key}) {says}.", problem);
    }

    [Fact]
    public void The_api_key_is_masked_wherever_the_gateway_masks_secrets()
    {
        var masker = new SecretMasker(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Gateway:Handlers:Llm:ApiKey"] = Key }).Build());

        Assert.Equal($"Incorrect API key provided: {SecretMasker.Mask}.", masker.Apply($"Incorrect API key provided: {Key}."));
    }

    private static IReadOnlyList<string> Problems(Dictionary<string, string?> settings)
    {
        using var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .AddTypewriterTextSource()
            .BuildServiceProvider();
        return ConfigurationProblems.Find(services);
    }
}
