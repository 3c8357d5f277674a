using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Storage;

/// <summary>Range checks from the data annotations on <see cref="OutboxOptions"/>, source-generated.</summary>
[OptionsValidator]
public sealed partial class OutboxOptionsValidator : IValidateOptions<OutboxOptions>;
