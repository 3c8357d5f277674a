namespace DingTalk.CardGateway.Storage;

public static class StorageExtensions
{
    public static IServiceCollection AddGatewayStorage(this IServiceCollection services)
    {
        services.AddSingleton<ICardStore, InMemoryCardStore>();
        return services;
    }
}
