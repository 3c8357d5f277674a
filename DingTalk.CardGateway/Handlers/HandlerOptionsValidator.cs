using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Handlers;

/// <summary>Range checks from the data annotations on <see cref="HandlerOptions"/>, source-generated.</summary>
[OptionsValidator]
public sealed partial class HandlerOptionsValidator : IValidateOptions<HandlerOptions>;
