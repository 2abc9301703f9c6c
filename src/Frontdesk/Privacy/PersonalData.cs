using Microsoft.Extensions.Compliance.Classification;
using Microsoft.Extensions.Compliance.Redaction;

namespace Frontdesk.Privacy;

/// <summary>Data classification for log parameters that can identify a patient. Parameters marked
/// [PersonalData] are erased by the redactor before any log provider sees them.</summary>
public static class FrontdeskTaxonomy
{
    public static DataClassification Personal { get; } = new("Frontdesk", "Personal");
}

[AttributeUsage(AttributeTargets.Parameter | AttributeTargets.Property | AttributeTargets.Field)]
public sealed class PersonalDataAttribute : DataClassificationAttribute
{
    public PersonalDataAttribute() : base(FrontdeskTaxonomy.Personal) { }
}

public static class PrivacyServices
{
    public static IServiceCollection AddPrivacy(this IServiceCollection services, ILoggingBuilder logging)
    {
        services.AddSingleton(new Detection.PiiDetector());
        services.AddSingleton<IKeyEncryptionKeys>(sp =>
        {
            var o = sp.GetRequiredService<FrontdeskOptions>();
            var current = Convert.FromBase64String(o.MasterKey is { Length: > 0 } k ? k : sp.GetRequiredService<DevSecrets>().FromFile("master-key", 32));
            var retired = (o.RetiredMasterKeys ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Convert.FromBase64String);
            return new LocalKeyEncryptionKeys(current, retired);
        });
        services.AddSingleton<Vault>();
        services.AddHostedService<DetectorWarmUp>();
        services.AddOptions<PrivacyOptions>().BindConfiguration("Privacy").ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<PrivacyOptions>>().Value);
        services.AddSingleton<RetentionWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<RetentionWorker>());
        services.AddRedaction(r => r.SetRedactor<ErasingRedactor>(new DataClassificationSet(FrontdeskTaxonomy.Personal)));
        logging.EnableRedaction();
        return services;
    }
}

/// <summary>Loads the detector's lexicons (~1.6 MB) at start, so the first caller does not pay ~0.3 s.</summary>
sealed class DetectorWarmUp(Detection.PiiDetector detector) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        detector.Detect("Warm up: my name is Jane Doe, I live at 1 High Street and I have asthma.");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
