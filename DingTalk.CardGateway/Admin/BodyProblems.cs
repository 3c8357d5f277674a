namespace DingTalk.CardGateway.Admin;

/// <summary>
/// What any admin route that reads a JSON body answers before its handler runs, so Swagger lists it beside the handler's
/// own problems: 413 for a body past Kestrel's request body limit (30,000,000 bytes unless configured), 415 for one not
/// sent as <c>application/json</c>.
/// </summary>
internal static class BodyProblems
{
    internal static RouteHandlerBuilder ProducesBodyProblems(this RouteHandlerBuilder route) => route
        .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
        .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
}
