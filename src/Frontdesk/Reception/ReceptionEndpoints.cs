using Frontdesk.Audit;
using Frontdesk.Calls;
using Frontdesk.Knowledge;
using Frontdesk.Tenancy;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Frontdesk.Reception;

public sealed record UpdateCallback(string? Status = null, string? Note = null);

/// <summary>
/// API.md "Reception": the clinic's reception settings (admin), its callbacks and its knowledge gaps
/// (staff: admin, receptionist, doctor; answering a gap changes the knowledge base, so admin).
/// Tenant-scoped by route (UseClinicScope) and by RLS.
/// </summary>
public static class ReceptionEndpoints
{
    const AppRoles Staff = AppRoles.Admin | AppRoles.Receptionist | AppRoles.Doctor;

    public static IServiceCollection AddReception(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<ReceptionOptions>().BindConfiguration("Reception").ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<ReceptionOptions>>().Value);
        services.AddSingleton<Callbacks>();
        services.AddSingleton<KnowledgeGaps>();
        services.AddSingleton<KnowledgeTriage>();
        services.AddSingleton<IVapiTool, RequestCallbackTool>();
        services.AddSingleton<IVapiMessageHandler, TransferDestinationHandler>();
        services.AddSingleton<IVapiMessageHandler, TransferFailedCallback>();
        services.AddSingleton<IAssistantRequestContributor, CallerVariables>();
        // The staff console's work queue (issue 19): callers to ring back, questions to answer.
        services.AddSingleton<StaffConsole.IWorkQueueProvider, CallbackQueueProvider>();
        services.AddSingleton<StaffConsole.IWorkQueueProvider, KnowledgeGapQueueProvider>();
        return services;
    }

    public static void MapReception(this IEndpointRouteBuilder app)
    {
        var settings = app.MapGroup("/api/clinics/{clinicId:guid}/reception").WithTags("Reception")
            .RequireAuthorization(Auth.Policies.Member)
            .RequireRoles(AppRoles.Admin);
        settings.MapGet("", GetSettings);
        settings.MapPut("", PutSettings);

        var callbacks = app.MapGroup("/api/clinics/{clinicId:guid}/callbacks").WithTags("Reception")
            .RequireAuthorization(Auth.Policies.Member)
            .RequireRoles(Staff);
        callbacks.MapGet("", ListCallbacks);
        callbacks.MapPatch("/{id:guid}", PatchCallback);

        var gaps = app.MapGroup("/api/clinics/{clinicId:guid}/knowledge/gaps").WithTags("Knowledge")
            .RequireAuthorization(Auth.Policies.Member);
        gaps.MapGet("", ListGaps).RequireRoles(Staff);
        gaps.MapPost("/{id:guid}/answer", AnswerGap).RequireRoles(AppRoles.Admin);
    }

    sealed record ClinicZone(string Timezone);

    public static async Task<Results<Ok<ReceptionView>, ProblemHttpResult>> GetSettings(Guid clinicId, HttpContext http, Db db, TimeProvider clock, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(http.Claims(), ct);
        if (await s.QuerySingleOrDefaultAsync<ClinicZone>("select timezone from clinics where id = @C", new { C = clinicId }, ct) is not { } clinic)
            return Problems.NotFoundProblem("Clinic");
        var settings = await ReceptionStore.ReadAsync(s, clinicId, ct);
        return TypedResults.Ok(settings.View(clinic.Timezone, clock.GetUtcNow()));
    }

    public static async Task<Results<Ok<ReceptionView>, ProblemHttpResult>> PutSettings(Guid clinicId, UpdateReception body, HttpContext http, Db db,
        TimeProvider clock, CancellationToken ct)
    {
        var (settings, error) = ReceptionSettingsParser.Parse(body);
        if (settings is null) return Problems.Invalid(error!);
        var (hours, closures) = ReceptionSettingsParser.ToJson(settings.Week);
        await using var s = await db.BeginAsync(http.Claims(), ct);
        if (await s.QuerySingleOrDefaultAsync<ClinicZone>("select timezone from clinics where id = @C", new { C = clinicId }, ct) is not { } clinic)
            return Problems.NotFoundProblem("Clinic");
        await s.ExecuteAsync("""
            insert into reception_settings (clinic_id, opening_hours, closures, transfer_number, transfer_mode, emergency_instruction, consultation_offer)
            values (@C, @Hours::jsonb, @Closures::jsonb, @Number, @Mode, @Emergency, @Offer)
            on conflict (clinic_id) do update set opening_hours = excluded.opening_hours, closures = excluded.closures,
              transfer_number = excluded.transfer_number, transfer_mode = excluded.transfer_mode,
              emergency_instruction = excluded.emergency_instruction, consultation_offer = excluded.consultation_offer, updated_at = now()
            """, new
        {
            C = clinicId, Hours = hours, Closures = closures, Number = settings.TransferNumber, Mode = settings.TransferMode,
            Emergency = settings.EmergencyInstruction, Offer = settings.ConsultationOffer,
        }, ct);
        await AuditLog.WriteAsync(s, clinicId, "updated", "reception_settings", clinicId.ToString(), new
        {
            openDays = settings.Week.Days.Count(d => d.Count > 0), closures = settings.Week.Closures.Count,
            transferNumber = settings.TransferNumber is not null, transferMode = settings.TransferMode,
            emergencyInstruction = settings.EmergencyInstruction is null ? "default" : "custom",
            consultationOffer = settings.ConsultationOffer is null ? "default" : "custom",
        }, ct);
        await s.CommitAsync(ct);
        return TypedResults.Ok(settings.View(clinic.Timezone, clock.GetUtcNow()));
    }

    /// <summary>status: open (the default), done, no_answer or all.</summary>
    static string? StatusFilter(string? status, IReadOnlyList<string> allowed, out ProblemHttpResult? invalid)
    {
        invalid = null;
        if (status is null) return allowed[0];
        if (status == "all") return null;
        if (allowed.Contains(status)) return status;
        invalid = Problems.Invalid($"status is one of: {string.Join(", ", allowed)}, all.");
        return null;
    }

    static async Task<Results<Ok<IReadOnlyList<CallbackView>>, ProblemHttpResult>> ListCallbacks(Guid clinicId, string? status, HttpContext http, Db db,
        Callbacks callbacks, CancellationToken ct)
    {
        var filter = StatusFilter(status, Callbacks.Statuses, out var invalid);
        if (invalid is not null) return invalid;
        await using var s = await db.BeginAsync(http.Claims(), ct);
        var list = await callbacks.ListAsync(s, clinicId, filter, ct);
        // Callers' numbers, reasons and notes were just decrypted for this reader: that is audited, like a patient read.
        await AuditLog.WriteAsync(s, clinicId, "accessed", "callbacks", null, new { status = filter ?? "all", callbacks = list.Select(c => c.Id) }, ct);
        await s.CommitAsync(ct);
        return TypedResults.Ok(list);
    }

    static async Task<Results<Ok<CallbackView>, ProblemHttpResult>> PatchCallback(Guid clinicId, Guid id, UpdateCallback body, HttpContext http, Db db,
        Callbacks callbacks, CancellationToken ct)
    {
        if (body.Status is not (Callbacks.Done or Callbacks.NoAnswer))
            return Problems.Invalid("status is \"done\" (the caller was called back) or \"no_answer\" (tried, no answer: it stays on the list).");
        if (body.Note is { } note && (note.Length > Callbacks.MaxNoteChars || string.IsNullOrWhiteSpace(note) || ReceptionSettingsParser.HasControl(note)))
            return Problems.Invalid($"note is text of 1 to {Callbacks.MaxNoteChars} characters.");
        await using var s = await db.BeginAsync(http.Claims(), ct);
        switch (await callbacks.UpdateAsync(s, clinicId, id, body.Status, body.Note?.Trim(), ct))
        {
            case CallbackChange.Updated u:
                await s.CommitAsync(ct);
                return TypedResults.Ok(u.Callback);
            case CallbackChange.Conflict c:
                return Problems.ConflictProblem(c.Detail);
            default:
                return Problems.NotFoundProblem("Callback");
        }
    }

    static async Task<Results<Ok<IReadOnlyList<KnowledgeGapView>>, ProblemHttpResult>> ListGaps(Guid clinicId, string? status, HttpContext http, Db db,
        CancellationToken ct)
    {
        var filter = StatusFilter(status, [KnowledgeGaps.Open, KnowledgeGaps.Answered], out var invalid);
        if (invalid is not null) return invalid;
        await using var s = await db.BeginAsync(http.Claims(), ct);
        return TypedResults.Ok(await KnowledgeGaps.ListAsync(s, clinicId, filter, ct));
    }

    static async Task<Results<Ok<KnowledgeGapView>, ProblemHttpResult>> AnswerGap(Guid clinicId, Guid id, AnswerGap body, HttpContext http, Db db,
        KnowledgeEmbeddings embeddings, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(body.Answer) || body.Answer.Length > KnowledgeGaps.MaxAnswerChars || ReceptionSettingsParser.HasControl(body.Answer))
            return Problems.Invalid($"answer is text of 1 to {KnowledgeGaps.MaxAnswerChars} characters: what the receptionist should tell callers.");
        var claims = http.Claims();
        GapAnswer outcome;
        await using (var s = await db.BeginAsync(claims, ct))
        {
            outcome = await KnowledgeGaps.AnswerAsync(s, clinicId, id, body.Answer, ct);
            if (outcome is GapAnswer.Answered) await s.CommitAsync(ct);
        }
        if (outcome is not GapAnswer.Answered answered) return Problems.NotFoundProblem("Knowledge gap");
        if (answered.Gap.DocumentId is { } doc) await embeddings.StoreAsync(db, claims, clinicId, doc, ct);
        return TypedResults.Ok(answered.Gap);
    }
}
