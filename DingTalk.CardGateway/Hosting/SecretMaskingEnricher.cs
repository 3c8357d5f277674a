using Serilog.Core;
using Serilog.Events;

namespace DingTalk.CardGateway.Hosting;

/// <summary>Runs every string property of every log event through <see cref="SecretMasker"/> before any sink sees it.</summary>
public sealed class SecretMaskingEnricher(SecretMasker masker) : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        foreach (var (name, value) in logEvent.Properties.ToList())
        {
            var masked = Mask(value);
            if (!ReferenceEquals(masked, value))
            {
                logEvent.AddOrUpdateProperty(new LogEventProperty(name, masked));
            }
        }
    }

    private LogEventPropertyValue Mask(LogEventPropertyValue value)
    {
        switch (value)
        {
            case ScalarValue { Value: string s }:
                var masked = masker.Apply(s);
                return ReferenceEquals(masked, s) || masked == s ? value : new ScalarValue(masked);
            case ScalarValue { Value: Uri u }:
                var maskedUri = masker.Apply(u.ToString());
                return maskedUri == u.ToString() ? value : new ScalarValue(maskedUri);
            case SequenceValue seq:
                return new SequenceValue(seq.Elements.Select(Mask));
            case StructureValue structure:
                return new StructureValue(structure.Properties.Select(p => new LogEventProperty(p.Name, Mask(p.Value))), structure.TypeTag);
            case DictionaryValue dict:
                return new DictionaryValue(dict.Elements.Select(e => new KeyValuePair<ScalarValue, LogEventPropertyValue>(e.Key, Mask(e.Value))));
            default:
                return value;
        }
    }
}
