using System.Text.Json;
using DingTalk.CardGateway.Cards;

namespace DingTalk.CardGateway.Tests.Cards;

public class CardParamMapEncoderTests
{
    [Theory]
    [InlineData("\"hello\"", "hello")]
    [InlineData("\"\"", "")]
    [InlineData("42", "42")]
    [InlineData("-3.5e2", "-3.5e2")]
    [InlineData("true", "true")]
    [InlineData("false", "false")]
    [InlineData("null", "")]
    [InlineData("[1, \"a\", {\"b\": true}]", "[1,\"a\",{\"b\":true}]")]
    [InlineData("{ \"nested\" : { \"x\" : [ ] } }", "{\"nested\":{\"x\":[]}}")]
    [InlineData("\"中文 ✓\"", "中文 ✓")]
    public void Values_become_the_strings_DingTalk_expects(string json, string expected)
    {
        using var doc = JsonDocument.Parse(json);

        Assert.Equal(expected, CardParamMapEncoder.EncodeValue(doc.RootElement));
    }

    [Fact]
    public void An_object_becomes_a_string_only_map()
    {
        using var doc = JsonDocument.Parse("""{"title":"Vote","count":3,"open":true,"options":["a","b"]}""");

        var map = CardParamMapEncoder.Encode(doc.RootElement);

        Assert.Equal(new Dictionary<string, string>
        {
            ["title"] = "Vote",
            ["count"] = "3",
            ["open"] = "true",
            ["options"] = "[\"a\",\"b\"]",
        }, map);
    }

    [Fact]
    public void Card_data_that_is_not_an_object_is_refused()
    {
        using var doc = JsonDocument.Parse("[1,2]");

        Assert.Throws<ArgumentException>(() => CardParamMapEncoder.Encode(doc.RootElement));
    }
}
