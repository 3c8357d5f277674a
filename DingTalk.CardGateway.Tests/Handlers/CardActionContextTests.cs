using DingTalk.CardGateway.Handlers;

namespace DingTalk.CardGateway.Tests.Handlers;

public sealed class CardActionContextTests
{
    [Theory]
    [InlineData("""{"assignee":"u3"}""", new[] { "u3" })]
    [InlineData("""{"assignee":["u3","u4"]}""", new[] { "u3", "u4" })]
    [InlineData("""{"assignee":[7,true,{"id":"u5"}]}""", new[] { "7", "true", """{"id":"u5"}""" })]
    [InlineData("""{"assignee":["u3",null,""]}""", new[] { "u3", "" })]
    [InlineData("""{"assignee":[]}""", new string[0])]
    [InlineData("""{"assignee":null}""", new string[0])]
    [InlineData("""{"other":"u3"}""", new string[0])]
    public void A_form_value_of_one_or_many_reads_as_a_list(string parameters, string[] expected)
    {
        Assert.Equal(expected, Click(parameters).ParamValues("assignee"));
    }

    [Fact]
    public void Param_gives_an_array_as_its_json_which_is_why_a_list_reads_with_ParamValues()
    {
        Assert.Equal("""["u3","u4"]""", Click("""{"assignee":["u3","u4"]}""").Param("assignee"));
    }

    private static CardActionContext Click(string parameters) => Clicks.WithParams(parameters);
}
