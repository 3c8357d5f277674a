using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>Range checks from the data annotations on <see cref="CallbackHandlingOptions"/>, source-generated.</summary>
[OptionsValidator]
public sealed partial class CallbackHandlingOptionsValidator : IValidateOptions<CallbackHandlingOptions>;
