namespace DingTalk.CardGateway.Callbacks;

public static class CallbackExtensions
{
    public static IServiceCollection AddCardCallbacks(this IServiceCollection services)
    {
        services.AddSingleton<CallbackBaseUrl>();
        return services;
    }
}
