using Frontdesk.FollowUp;

namespace Frontdesk.Booking;

/// <summary>
/// What a procedure asks of a slot (issue 17): the practitioners who consult for it and the
/// consultation length. A booking is exactly one slot, so "enough length" means the slot itself is at
/// least <see cref="ConsultationMinutes"/> long; consecutive slots are never joined (a clinic whose
/// procedure needs 60 minutes generates 60-minute slots for its practitioners). A procedure with
/// neither setting fits every slot, as before.
/// </summary>
public sealed record ProcedureFit(Guid Id, string Name, int? ConsultationMinutes, bool Restricted, Guid[] PractitionerIds)
{
    /// <summary>Restricted to nobody: such a procedure is said to be unavailable, never booked with anyone.</summary>
    public bool NobodyConsults => Restricted && PractitionerIds.Length == 0;

    public bool Filters => Restricted || ConsultationMinutes is not null;

    public bool Fits(Guid practitionerId, DateTimeOffset startsAt, DateTimeOffset endsAt) =>
        (!Restricted || PractitionerIds.Contains(practitionerId))
        && (ConsultationMinutes is not { } minutes || endsAt - startsAt >= TimeSpan.FromMinutes(minutes));

    /// <summary>The SQL condition on a slot aliased <c>s</c>; bind <see cref="Parameters"/>'s members with it.</summary>
    public const string SlotCondition = """
        (not @FitRestricted or s.practitioner_id = any(@FitPractitioners))
        and (@FitMinutes::int is null or s.ends_at - s.starts_at >= make_interval(mins => @FitMinutes::int))
        """;

    /// <summary>
    /// The same rule from the procedure's side, for matching many procedures against one slot (the
    /// waitlist): the procedure aliased <c>cp</c> fits the slot aliased <c>s</c>. <c>cp</c> is left-joined;
    /// no procedure (null) fits every slot, a procedure restricted to nobody fits none.
    /// </summary>
    public const string ProcedureCondition = """
        (cp.id is null or (
          (not cp.practitioners_restricted or exists (select 1 from procedure_practitioners pp
             where pp.clinic_id = cp.clinic_id and pp.procedure_id = cp.id and pp.practitioner_id = s.practitioner_id))
          and (cp.consultation_minutes is null or s.ends_at - s.starts_at >= make_interval(mins => cp.consultation_minutes))))
        """;

    /// <summary>The parameters of <see cref="SlotCondition"/>; for no procedure, a condition every slot meets.</summary>
    public static (bool FitRestricted, Guid[] FitPractitioners, int? FitMinutes) Parameters(ProcedureFit? fit) =>
        fit is null ? (false, [], null) : (fit.Restricted, fit.PractitionerIds, fit.ConsultationMinutes);

    /// <summary>"Nobody here does Facelift consultations at the moment": spoken and shown alike.</summary>
    public string NobodyMessage(string clinicName) =>
        $"Nobody at {clinicName} does {Name} consultations at the moment, so I can't book one.";
}

/// <summary>Reads procedure settings in a tenant transaction.</summary>
public static class ProcedureFits
{
    sealed record Row(Guid Id, string Name, string[] Synonyms, int? ConsultationMinutes, bool Restricted, Guid[] PractitionerIds);

    const string Columns = """
        p.id, p.name, p.synonyms, p.consultation_minutes, p.practitioners_restricted,
        array(select pp.practitioner_id from procedure_practitioners pp
              where pp.clinic_id = p.clinic_id and pp.procedure_id = p.id order by pp.practitioner_id)
        """;

    /// <summary>The clinic's procedure a caller named (exact name or synonym, else mentioned in the
    /// text, as the follow-up matches it), or null when none is named or known.</summary>
    public static async Task<ProcedureFit?> FindAsync(DbSession s, Guid clinicId, string? spoken, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(spoken)) return null;
        var rows = await s.QueryAsync<Row>($"select {Columns} from clinic_procedures p where p.clinic_id = @ClinicId",
            new { ClinicId = clinicId }, ct);
        if (rows.Count == 0) return null;
        var match = new ProcedureCatalog(rows.Select(r => new Procedure(r.Name, r.Synonyms, null)).ToList()).ForKeyword(spoken);
        return rows.FirstOrDefault(r => match is not null && string.Equals(r.Name, match.Name, StringComparison.Ordinal)) is { } row
            ? Of(row)
            : null;
    }

    /// <summary>A booking's procedure, or null (none recorded, or deleted since).</summary>
    public static async Task<ProcedureFit?> ByIdAsync(DbSession s, Guid clinicId, Guid? procedureId, CancellationToken ct) =>
        procedureId is null
            ? null
            : await s.QuerySingleOrDefaultAsync<Row>($"select {Columns} from clinic_procedures p where p.clinic_id = @ClinicId and p.id = @Id",
                new { ClinicId = clinicId, Id = procedureId }, ct) is { } row ? Of(row) : null;

    static ProcedureFit Of(Row r) => new(r.Id, r.Name, r.ConsultationMinutes, r.Restricted, r.PractitionerIds);

    sealed record SlotRow(Guid PractitionerId, DateTimeOffset StartsAt, DateTimeOffset EndsAt);

    /// <summary>Whether a slot of the clinic fits the procedure; null when there is no such slot.</summary>
    public static async Task<bool?> SlotFitsAsync(DbSession s, Guid clinicId, Guid slotId, ProcedureFit fit, CancellationToken ct) =>
        await s.QuerySingleOrDefaultAsync<SlotRow>(
                "select practitioner_id, starts_at, ends_at from calendar_slots where clinic_id = @ClinicId and id = @Id",
                new { ClinicId = clinicId, Id = slotId }, ct) is { } slot
            ? fit.Fits(slot.PractitionerId, slot.StartsAt, slot.EndsAt)
            : null;

    sealed record AlternativeRow(Guid Id, DateTimeOffset StartsAt, DateTimeOffset EndsAt, Guid PractitionerId);

    /// <summary>
    /// Free slots near <paramref name="slotId"/> that fit the procedure, ranked as the slot engine ranks
    /// its alternatives (|Δ start| + 2 h for another practitioner). The engine's own list keeps to the
    /// taken slot's length and ignores procedures; this one keeps to the procedure instead.
    /// </summary>
    public static async Task<IReadOnlyList<Alternative>> AlternativesAsync(DbSession s, Guid clinicId, string timezone, Guid slotId,
        ProcedureFit fit, int limit, CancellationToken ct)
    {
        var (restricted, practitioners, minutes) = ProcedureFit.Parameters(fit);
        var rows = await s.QueryAsync<AlternativeRow>($"""
            select s.id, s.starts_at, s.ends_at, s.practitioner_id
            from calendar_slots t
            join calendar_slots s on s.clinic_id = t.clinic_id and s.id <> t.id
            where t.clinic_id = @ClinicId and t.id = @SlotId
              and s.starts_at > now() and s.claimed_by is null and not s.busy
              and (s.hold_expires_at is null or s.hold_expires_at <= now())
              and {ProcedureFit.SlotCondition}
            order by abs(extract(epoch from s.starts_at - t.starts_at)) + case when s.practitioner_id = t.practitioner_id then 0 else 7200 end
            limit @Limit
            """, new { ClinicId = clinicId, SlotId = slotId, FitRestricted = restricted, FitPractitioners = practitioners, FitMinutes = minutes, Limit = limit }, ct);
        var zone = ClinicTime.Zone(timezone);
        return rows.Select(r => new Alternative(r.Id, ClinicTime.Local(r.StartsAt, zone), ClinicTime.Local(r.EndsAt, zone), r.PractitionerId,
            ClinicTime.Spoken(r.StartsAt, zone))).ToList();
    }

    /// <summary>Records the procedure a booking was made for (when it has none yet).</summary>
    public static Task<int> RecordAsync(DbSession s, Guid clinicId, Guid bookingId, ProcedureFit? fit, CancellationToken ct) =>
        fit is null
            ? Task.FromResult(0)
            : s.ExecuteAsync("update bookings set procedure_id = @ProcedureId where clinic_id = @ClinicId and id = @Id and procedure_id is null",
                new { ProcedureId = fit.Id, ClinicId = clinicId, Id = bookingId }, ct);
}
