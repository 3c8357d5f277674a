using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Handlers;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>
/// <see cref="CardActionContext.ParamsAs{T}"/>: a click's <c>params</c> bound to a record, tolerant of how DingTalk's forms
/// send values, and failing with the path and the expected type — never the value, which may be personal data.
/// </summary>
public sealed class CardParamsTests
{
    /// <summary>A value no message may repeat: a phone number typed into a form.</summary>
    private const string Personal = "13800138000";

    public enum Severity
    {
        Low,
        High,
    }

    [Fact]
    public void Numbers_and_booleans_sent_as_strings_bind_to_number_and_boolean_members()
    {
        var form = Click("""{"quantity":"3","price":"12.50","ratio":"0.25","urgent":"true","page":"False"}""").ParamsAs<Order>();

        Assert.Equal(new Order(3, 12.50m, 0.25, Urgent: true, Page: false), form);
    }

    [Fact]
    public void Numbers_and_booleans_sent_as_json_bind_alike()
    {
        var form = Click("""{"quantity":3,"price":12.5,"ratio":2.5e-1,"urgent":true,"page":false}""").ParamsAs<Order>();

        Assert.Equal(new Order(3, 12.5m, 0.25, Urgent: true, Page: false), form);
    }

    [Theory]
    [InlineData("""{"assignee":"u3"}""", new[] { "u3" })]
    [InlineData("""{"assignee":["u3","u4"]}""", new[] { "u3", "u4" })]
    [InlineData("""{"assignee":["u3",null]}""", new[] { "u3" })]
    [InlineData("""{"assignee":null}""", new string[0])]
    [InlineData("""{"assignee":7}""", new[] { "7" })]
    public void A_single_value_binds_to_a_list_member_as_ParamValues_reads_it(string parameters, string[] expected)
    {
        var click = Click(parameters);

        Assert.Equal(expected, click.ParamsAs<Assignment>().Assignee);
        Assert.Equal(expected, click.ParamsAs<AssignmentArray>().Assignee);
        Assert.Equal(click.ParamValues("assignee"), click.ParamsAs<Assignment>().Assignee);
    }

    [Fact]
    public void A_single_number_binds_to_a_list_of_numbers()
    {
        Assert.Equal([5], Click("""{"scores":"5"}""").ParamsAs<Rating>().Scores);
        Assert.Equal([5, 6], Click("""{"scores":[5,"6"]}""").ParamsAs<Rating>().Scores);
    }

    [Fact]
    public void An_empty_string_binds_to_a_nullable_member_as_null()
    {
        var form = Click("""{"quantity":"","price":"","urgent":"","due":"","severity":"","note":""}""").ParamsAs<Optional>();

        Assert.Equal(new Optional(null, null, null, null, null, null), form);
    }

    [Theory]
    [InlineData("""{"title":12.50}""", "12.50")]
    [InlineData("""{"title":true}""", "true")]
    public void A_number_or_boolean_binds_to_a_string_member_as_its_json_text_as_Param_reads_it(string parameters, string expected)
    {
        var click = Click(parameters);

        Assert.Equal(expected, click.ParamsAs<Titled>().Title);
        Assert.Equal(click.Param("title"), click.ParamsAs<Titled>().Title);
    }

    [Fact]
    public void An_empty_string_stays_empty_for_a_member_that_is_not_nullable()
    {
        Assert.Equal("", Click("""{"title":""}""").ParamsAs<Titled>().Title);
    }

    [Fact]
    public void Unknown_fields_are_ignored_and_names_match_in_any_case()
    {
        var form = Click("""{"action":"order","QUANTITY":"2","Price":1,"ratio":1,"urgent":false,"page":true,"extra":{"x":[1]}}""").ParamsAs<Order>();

        Assert.Equal(new Order(2, 1m, 1, Urgent: false, Page: true), form);
    }

    [Fact]
    public void Dates_and_enums_bind_from_a_date_picker_and_a_select()
    {
        var form = Click("""{"quantity":1,"price":1,"urgent":false,"due":"2026-11-28","severity":"high","note":"call me"}""").ParamsAs<Optional>();

        Assert.Equal(new DateOnly(2026, 11, 28), form.Due);
        Assert.Equal(Severity.High, form.Severity);
        Assert.Equal("call me", form.Note);
    }

    [Fact]
    public void Nested_objects_and_lists_of_them_bind()
    {
        var form = Click("""{"items":[{"sku":"a","quantity":"2"},{"sku":"b","quantity":1}],"address":{"city":"Hangzhou"}}""").ParamsAs<Basket>();

        Assert.Equal([new Item("a", 2), new Item("b", 1)], form.Items);
        Assert.Equal("Hangzhou", form.Address?.City);
    }

    [Theory]
    [InlineData("""{"page":true}""", "$.title is required", "$.title", "a string")] // a required member
    [InlineData("""{"title":"t"}""", "$.page is required", "$.page", "true or false")] // a record's parameter with no default
    public void A_required_member_missing_names_its_path(string parameters, string message, string path, string expected)
    {
        var problem = Assert.Throws<CardParamsException>(() => Click(parameters).ParamsAs<Required>());

        Assert.Equal(message, problem.Message);
        Assert.Equal(path, problem.Path);
        Assert.Equal(expected, problem.Expected);
        Assert.Equal(typeof(Required), problem.Target);
    }

    [Fact]
    public void A_missing_member_with_a_default_or_declared_nullable_is_not_required()
    {
        var form = Click("""{"title":"t","page":"true"}""").ParamsAs<Required>();

        Assert.Equal(new Required(true) { Title = "t" }, form);
    }

    [Theory]
    [InlineData($$"""{"quantity":"{{Personal}}x","price":1,"ratio":1,"urgent":true,"page":true}""", "$.quantity must be a whole number, not a string that does not read as one")]
    [InlineData($$"""{"quantity":"{{Personal}}.5","price":1,"ratio":1,"urgent":true,"page":true}""", "$.quantity must be a whole number, not a string that does not read as one")]
    [InlineData($$"""{"quantity":1,"price":{"p":"{{Personal}}"},"ratio":1,"urgent":true,"page":true}""", "$.price must be a number, not an object")]
    [InlineData($$"""{"quantity":1,"price":1,"ratio":1,"urgent":"{{Personal}}","page":true}""", "$.urgent must be true or false, not a string that does not read as one")]
    [InlineData($$"""{"quantity":1,"price":1,"ratio":1,"urgent":[{{Personal}}],"page":true}""", "$.urgent must be true or false, not an array")]
    [InlineData("""{"quantity":1,"price":1,"ratio":1,"urgent":null,"page":true}""", "$.urgent must be true or false, not null")]
    [InlineData("""{"quantity":"","price":1,"ratio":1,"urgent":true,"page":true}""", "$.quantity must be a whole number, not an empty string")]
    public void A_value_of_the_wrong_kind_names_the_path_and_the_expected_type_and_not_the_value(string parameters, string message)
    {
        var problem = Assert.Throws<CardParamsException>(() => Click(parameters).ParamsAs<Order>());

        Assert.Equal(message, problem.Message);
        Assert.DoesNotContain(Personal, problem.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData($$$"""{"assignee":{"id":"{{{Personal}}}"}}""", "$.assignee must be a list of strings, not an object")]
    [InlineData($$"""{"assignee":["u3",{"id":"{{Personal}}"}]}""", "$.assignee must be a list of strings, not an array holding an object")]
    public void A_list_member_holding_something_else_is_named_as_a_list(string parameters, string message)
    {
        var problem = Assert.Throws<CardParamsException>(() => Click(parameters).ParamsAs<Assignment>());

        Assert.Equal(message, problem.Message);
        Assert.Equal("$.assignee", problem.Path);
        Assert.Equal("a list of strings", problem.Expected);
        Assert.DoesNotContain(Personal, problem.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData($$"""{"items":[{"sku":"a","quantity":1},{"sku":"b","quantity":"{{Personal}}!"}]}""", "$.items[1].quantity must be a whole number, not a string that does not read as one")]
    [InlineData("""{"items":[{"sku":"a","quantity":1},{"quantity":1}]}""", "$.items[1].sku is required")]
    [InlineData("""{"items":[],"address":{"city":null}}""", "$.address.city must be a string, not null")]
    [InlineData($$"""{"items":"{{Personal}}"}""", "$.items must be an object (Item), not a string")]
    public void A_problem_inside_a_nested_object_names_its_full_path(string parameters, string message)
    {
        var problem = Assert.Throws<CardParamsException>(() => Click(parameters).ParamsAs<Basket>());

        Assert.Equal(message, problem.Message);
        Assert.DoesNotContain(Personal, problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_select_value_that_is_not_one_of_the_enum_names_the_choices()
    {
        var problem = Assert.Throws<CardParamsException>(() => Click($$"""{"severity":"{{Personal}}"}""").ParamsAs<Optional>());

        Assert.Equal("$.severity must be one of Low, High, not a string that does not read as one", problem.Message);
    }

    [Theory]
    [InlineData("""{"severity":7}""", "$.severity must be one of Low, High, not a number")]
    [InlineData("""{"severity":1}""", "$.severity must be one of Low, High, not a number")]
    [InlineData("""{"severity":"7"}""", "$.severity must be one of Low, High, not a string that does not read as one")]
    [InlineData("""{"severity":"Low,High"}""", "$.severity must be one of Low, High, not a string that does not read as one")]
    public void An_enum_binds_from_one_of_its_names_only_never_from_a_number(string parameters, string message)
    {
        var problem = Assert.Throws<CardParamsException>(() => Click(parameters).ParamsAs<Optional>());

        Assert.Equal(message, problem.Message);
    }

    [Fact]
    public async Task A_form_posted_with_CardClick_Submit_binds_back_to_its_record_with_the_members_left_null()
    {
        // A nullable member C# requires (a positional parameter without a default, a required property) left null: the
        // submit sends it as null, as a form sends a field left empty, not leave it out, which would make it missing.
        var form = new Feedback(5, Comment: null, Score: null) { Remark = null };
        using var submit = CardClick.Submit("card-1", "u1", "feedback", form);

        var click = await ClickOfAsync(submit);

        Assert.Equal(form, click.ParamsAs<Feedback>());
    }

    [Theory]
    [InlineData($$$"""{"tags":{"id":"{{{Personal}}}"}}""", "$.tags must be a list of strings, not an object", "a list of strings")]
    [InlineData($$$"""{"counts":{"{{{Personal}}}":"x"}}""", "$.counts must be an object of whole numbers, not an object holding a string that does not read as one", "an object of whole numbers")]
    [InlineData($$"""{"span":"{{Personal}}"}""", "$.span must be a duration (d.hh:mm:ss), not a string that does not read as one", "a duration (d.hh:mm:ss)")]
    [InlineData($$"""{"initial":"{{Personal}}"}""", "$.initial must be a single character, not a string that does not read as one", "a single character")]
    public void A_member_of_another_kind_of_type_is_named_for_what_it_takes(string parameters, string message, string expected)
    {
        var problem = Assert.Throws<CardParamsException>(() => Click(parameters).ParamsAs<Assorted>());

        Assert.Equal(message, problem.Message);
        Assert.Equal(expected, problem.Expected);
        Assert.DoesNotContain(Personal, problem.ToString(), StringComparison.Ordinal);
    }

    public sealed record Order(int Quantity, decimal Price, double Ratio, bool Urgent, bool Page);

    public sealed record Assignment(IReadOnlyList<string> Assignee);

    public sealed record AssignmentArray(string[] Assignee);

    public sealed record Rating(List<int> Scores);

    public sealed record Optional(int? Quantity = null, decimal? Price = null, bool? Urgent = null, DateOnly? Due = null, Severity? Severity = null, string? Note = null);

    public sealed record Titled(string Title);

    public sealed record Required(bool Page, string? Comment = null)
    {
        public required string Title { get; init; }

        public string? Remark { get; init; }
    }

    public sealed record Feedback(int Rating, string? Comment, int? Score)
    {
        public required string? Remark { get; init; }
    }

    public sealed record Assorted(HashSet<string>? Tags = null, Dictionary<string, int>? Counts = null, TimeSpan? Span = null, char? Initial = null);

    public sealed record Item(string Sku, int Quantity);

    public sealed record Address(string City);

    public sealed record Basket(IReadOnlyList<Item> Items, Address? Address = null);

    private static CardActionContext Click(string parameters) => Clicks.WithParams(parameters);

    /// <summary>The context a handler is given for <paramref name="request"/>, read as the gateway reads a callback's body.</summary>
    private static async Task<CardActionContext> ClickOfAsync(HttpRequestMessage request)
    {
        var body = await request.Content!.ReadAsByteArrayAsync();
        Assert.True(CardActionParser.TryParse(body, CallbackTransport.Http, deliveryStamp: null, out var action, out var problem), problem);
        return CardActionContext.From(action, card: null);
    }
}
