using System.ComponentModel.DataAnnotations;

namespace DingTalk.CardGateway.Admin;

/// <summary>A string parameter that takes the names of <typeparamref name="TEnum"/>'s values, listed as they are, so the list cannot fall behind the enum.</summary>
[AttributeUsage(AttributeTargets.Parameter | AttributeTargets.Property)]
public sealed class AllowedNamesAttribute<TEnum>() : AllowedValuesAttribute(Enum.GetNames<TEnum>())
    where TEnum : struct, Enum;
