using DingTalk.CardGateway.Handlers.Effects;

namespace DingTalk.CardGateway.Tests.Handlers.Effects;

public sealed class CardEffectRegistryTests
{
    [Fact]
    public void Two_effect_classes_of_one_name_are_refused_naming_both()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new CardEffectRegistry(
        [
            Registration("Notify", typeof(Tickets.Notify)),
            Registration("Notify", typeof(Chat.Notify)),
        ]));

        Assert.Contains(typeof(Tickets.Notify).FullName!, error.Message, StringComparison.Ordinal);
        Assert.Contains(typeof(Chat.Notify).FullName!, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void One_effect_class_registered_twice_is_one_effect()
    {
        var registry = new CardEffectRegistry([Registration("Notify", typeof(Tickets.Notify)), Registration("Notify", typeof(Tickets.Notify))]);

        Assert.Equal(typeof(Tickets.Notify), registry.Find("Notify")!.EffectType);
        Assert.False(registry.IsRegistered("Other"));
    }

    private static CardEffectRegistration Registration(string name, Type type) => new(name, type, (_, _, _) => Task.CompletedTask);

    /// <summary>Two classes of one type name, as in two namespaces of an application.</summary>
    private static class Tickets
    {
        public sealed class Notify;
    }

    private static class Chat
    {
        public sealed class Notify;
    }
}

