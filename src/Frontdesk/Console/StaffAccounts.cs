using System.Security.Cryptography;
using System.Text;
using Frontdesk.Audit;
using Frontdesk.Privacy;
using Microsoft.AspNetCore.Identity;

namespace Frontdesk.StaffConsole;

public static class StaffRoles
{
    public const string Admin = "admin", Receptionist = "receptionist", Doctor = "doctor";
    public static readonly string[] All = [Admin, Receptionist, Doctor];
    public static bool IsKnown(string? role) => role is Admin or Receptionist or Doctor;
}

/// <summary>An account as sign-in reads it (under the account's clinic claims).</summary>
public sealed record StaffAccount(Guid Id, Guid ClinicId, string Email, string DisplayName, string Role, string PasswordHash,
    bool MustChangePassword, int FailedAttempts, DateTimeOffset? LockedUntil, byte[]? TotpSecret, string? TotpKeyId, long? TotpLastStep,
    int SessionGeneration, DateTimeOffset? DisabledAt)
{
    public bool HasTotp => TotpSecret is not null;
}

public sealed record StaffListItem(Guid Id, string Email, string DisplayName, string Role, bool Totp, bool MustChangePassword,
    DateTimeOffset? LastSignInAt, DateTimeOffset? DisabledAt, DateTimeOffset? LockedUntil);

public abstract record SignInResult
{
    public sealed record Verified(StaffAccount Account) : SignInResult;
    public sealed record Locked(DateTimeOffset Until) : SignInResult;
    public sealed record Invalid : SignInResult;
}

public sealed record CreatedStaff(Guid Id, string? OneTimePassword);

/// <summary>
/// Staff accounts: creation (operator command, admin invitation, development bootstrap), password
/// and TOTP verification with lockout, password changes, second-factor enrolment and the session
/// generation that signs an account out everywhere. Every statement but the sign-in lookup runs
/// under the account's clinic claims, so RLS applies as to the API.
/// </summary>
public sealed partial class StaffAccounts(Db db, IKeyEncryptionKeys keks, ConsoleOptions options, TimeProvider clock, ILogger<StaffAccounts> log)
{
    // The account type is only a generic tag for Identity's hasher: PBKDF2 ignores it.
    static readonly PasswordHasher<StaffAccount> Hasher = new();
    // Verified when an email is unknown, so the answer takes as long as for a known one.
    static readonly string DummyHash = Hasher.HashPassword(null!, "frontdesk-no-such-account");

    internal const string Columns = """
        id, clinic_id, email, display_name, role, password_hash, must_change_password, failed_attempts, locked_until,
        totp_secret, totp_key_id, totp_last_step, session_generation, disabled_at
        """;

    public static RequestClaims ClaimsFor(Guid clinicId, Guid staffId, string? role = null) =>
        RequestClaims.ForClinic(clinicId, "staff:" + staffId.ToString("D"), role);

    public static string? NormalizeEmail(string? email)
    {
        email = email?.Trim().ToLowerInvariant();
        return email is { Length: >= 3 and <= 254 } && System.Net.Mail.MailAddress.TryCreate(email, out var a) && a.Address == email ? email : null;
    }

    /// <summary>Why a password is refused, or null when it is acceptable.</summary>
    public string? PasswordProblem(string? password) =>
        password is null || password.Length < options.MinPasswordLength ? $"Use at least {options.MinPasswordLength} characters."
        : password.Length > 256 ? "Use at most 256 characters."
        : password.Trim().Length == 0 ? "A password cannot be only spaces."
        : null;

    /// <summary>A random password to hand over once: 16 characters from an alphabet without look-alikes.</summary>
    public static string NewOneTimePassword()
    {
        const string alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        return string.Create(16, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++) span[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        });
    }

    /// <summary>Creates an account in the session's clinic. Without <paramref name="password"/> a one-time
    /// password is generated and returned; either way it must be changed at first sign-in.</summary>
    public async Task<CreatedStaff> CreateAsync(DbSession s, Guid clinicId, string email, string displayName, string role, string? password,
        string createdBy, CancellationToken ct)
    {
        var oneTime = password is null ? NewOneTimePassword() : null;
        var id = await s.QuerySingleOrDefaultAsync<Guid>("""
            insert into staff_accounts (clinic_id, email, display_name, role, password_hash, must_change_password, created_by)
            values (@ClinicId, @Email, @Name, @Role, @Hash, true, @CreatedBy)
            returning id
            """, new { ClinicId = clinicId, Email = email, Name = displayName, Role = role, Hash = Hasher.HashPassword(null!, password ?? oneTime!), CreatedBy = createdBy }, ct);
        // The role only: the address is personal data and the audit trail is readable by every member.
        await AuditLog.WriteAsync(s, clinicId, "staff_created", "staff", id.ToString(), new { role }, ct);
        return new CreatedStaff(id, oneTime);
    }

    sealed record Candidate(Guid ClinicId, Guid Id);

    /// <summary>Password sign-in. A locked account is not even tried; a wrong password counts against
    /// every account of the address. With TOTP on, the counter is reset only by the code.</summary>
    public async Task<SignInResult> VerifyPasswordAsync(string? emailInput, string? password, CancellationToken ct)
    {
        var email = NormalizeEmail(emailInput);
        if (email is null || string.IsNullOrEmpty(password) || password.Length > 256)
        {
            Hasher.VerifyHashedPassword(null!, DummyHash, password ?? "");
            return new SignInResult.Invalid();
        }
        var candidates = await db.QueryOnceAsync<Candidate>(RequestClaims.AsSystem(SystemPath.ConsoleSignIn),
            "select clinic_id, id from staff_accounts where email = @Email and disabled_at is null order by created_at limit 5",
            new { Email = email }, ct);
        if (candidates.Count == 0)
        {
            Hasher.VerifyHashedPassword(null!, DummyHash, password);
            Log.UnknownAccount(log);
            return new SignInResult.Invalid();
        }

        DateTimeOffset? lockedUntil = null;
        var now = clock.GetUtcNow();
        var wrong = new List<StaffAccount>();
        foreach (var c in candidates)
        {
            var account = await ReadAsync(c.ClinicId, c.Id, ct);
            if (account is null || account.DisabledAt is not null) continue;
            if (account.LockedUntil > now)
            {
                lockedUntil = account.LockedUntil;
                continue;
            }
            var verdict = Hasher.VerifyHashedPassword(account, account.PasswordHash, password);
            if (verdict == PasswordVerificationResult.Failed)
            {
                wrong.Add(account);
                continue;
            }
            // An address with accounts at several clinics signs in to the one whose password this is
            // (the oldest, should two share it); the others' counters are not touched.
            await db.InTransactionAsync(ClaimsFor(account.ClinicId, account.Id), async s =>
            {
                if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
                    await s.ExecuteAsync("update staff_accounts set password_hash = @Hash where clinic_id = @C and id = @Id",
                        new { Hash = Hasher.HashPassword(account, password), C = account.ClinicId, account.Id }, ct);
                if (!account.HasTotp) await SucceededAsync(s, account, "password", ct);
                return 0;
            }, ct);
            return new SignInResult.Verified(account);
        }
        // No account took the password: it counts against each of the address's unlocked accounts.
        foreach (var account in wrong)
            lockedUntil = await FailAsync(account, "password", ct) ?? lockedUntil;
        return lockedUntil is { } until ? new SignInResult.Locked(until) : new SignInResult.Invalid();
    }

    /// <summary>The second step: a TOTP code not used before. Wrong codes count towards the lockout.</summary>
    public async Task<SignInResult> VerifyCodeAsync(Guid clinicId, Guid staffId, string? code, CancellationToken ct)
    {
        var account = await ReadAsync(clinicId, staffId, ct);
        if (account is null || account.DisabledAt is not null || !account.HasTotp) return new SignInResult.Invalid();
        if (account.LockedUntil > clock.GetUtcNow()) return new SignInResult.Locked(account.LockedUntil.Value);
        var secret = Unwrap(account.ClinicId, account.Id, account.TotpKeyId!, account.TotpSecret!);
        if (Totp.Match(secret, code, clock.GetUtcNow(), account.TotpLastStep) is { } step)
        {
            // The database decides a race between two uses of one code: only one moves the step on.
            var accepted = await db.InTransactionAsync(ClaimsFor(clinicId, staffId), async s =>
            {
                var n = await s.ExecuteAsync("""
                    update staff_accounts set totp_last_step = @Step
                    where clinic_id = @C and id = @Id and (totp_last_step is null or totp_last_step < @Step)
                    """, new { Step = step, C = clinicId, Id = staffId }, ct);
                if (n == 1) await SucceededAsync(s, account, "totp", ct);
                return n == 1;
            }, ct);
            if (accepted) return new SignInResult.Verified(account);
        }
        return await FailAsync(account, "totp", ct) is { } until ? new SignInResult.Locked(until) : new SignInResult.Invalid();
    }

    public async Task<StaffAccount?> ReadAsync(Guid clinicId, Guid staffId, CancellationToken ct) =>
        await db.QueryOnceAsync<StaffAccount>(ClaimsFor(clinicId, staffId), $"select {Columns} from staff_accounts where clinic_id = @C and id = @Id",
            new { C = clinicId, Id = staffId }, ct) is [var a] ? a : null;

    static async Task SucceededAsync(DbSession s, StaffAccount account, string factor, CancellationToken ct)
    {
        await s.ExecuteAsync("""
            update staff_accounts set failed_attempts = 0, locked_until = null, last_sign_in_at = now()
            where clinic_id = @C and id = @Id
            """, new { C = account.ClinicId, account.Id }, ct);
        await AuditLog.WriteAsync(s, account.ClinicId, "console_signed_in", "staff", account.Id.ToString(), new { factor }, ct);
    }

    /// <summary>Counts a failure; returns the lock's end when this failure (or an earlier one) locked the account.</summary>
    async Task<DateTimeOffset?> FailAsync(StaffAccount account, string factor, CancellationToken ct) =>
        await db.InTransactionAsync(ClaimsFor(account.ClinicId, account.Id), async s =>
        {
            // One statement: concurrent wrong guesses each count. A lock that has run out starts a new count.
            var locked = await s.QuerySingleOrDefaultAsync<DateTimeOffset?>("""
                update staff_accounts set
                  failed_attempts = case when locked_until is not null and locked_until <= now() then 1 else failed_attempts + 1 end,
                  locked_until = case
                    when locked_until is not null and locked_until <= now() then null
                    when failed_attempts + 1 >= @Max then now() + make_interval(mins => @Minutes)
                    else locked_until end
                where clinic_id = @C and id = @Id
                returning locked_until
                """, new { Max = options.MaxFailedAttempts, Minutes = options.LockoutMinutes, C = account.ClinicId, account.Id }, ct);
            await AuditLog.WriteAsync(s, account.ClinicId, locked is null ? "console_sign_in_failed" : "console_locked_out", "staff",
                account.Id.ToString(), new { factor }, ct);
            if (locked is not null) Log.LockedOut(log, account.ClinicId, account.Id);
            return locked;
        }, ct);

    /// <summary>Sets a new password (the current one verified first unless <paramref name="current"/> is null
    /// because the one-time password was just verified) and ends every other session.</summary>
    public async Task<(bool Ok, string? Problem, int Generation)> ChangePasswordAsync(Guid clinicId, Guid staffId, string? current, string? next, bool requireCurrent,
        CancellationToken ct)
    {
        if (PasswordProblem(next) is { } problem) return (false, problem, 0);
        var account = await ReadAsync(clinicId, staffId, ct);
        if (account is null) return (false, "The account no longer exists.", 0);
        if (requireCurrent && Hasher.VerifyHashedPassword(account, account.PasswordHash, current ?? "") == PasswordVerificationResult.Failed)
            return (false, "The current password is not right.", 0);
        if (Hasher.VerifyHashedPassword(account, account.PasswordHash, next!) != PasswordVerificationResult.Failed)
            return (false, "Choose a password different from the current one.", 0);
        var generation = await db.InTransactionAsync(ClaimsFor(clinicId, staffId, account.Role), async s =>
        {
            var g = await s.QuerySingleOrDefaultAsync<int>("""
                update staff_accounts set password_hash = @Hash, must_change_password = false,
                       session_generation = session_generation + 1, updated_at = now()
                where clinic_id = @C and id = @Id returning session_generation
                """, new { Hash = Hasher.HashPassword(account, next!), C = clinicId, Id = staffId }, ct);
            await AuditLog.WriteAsync(s, clinicId, "staff_password_changed", "staff", staffId.ToString(), null, ct);
            return g;
        }, ct);
        return (true, null, generation);
    }

    /// <summary>Ends every session of the account (its cookies carry an older generation from now on).</summary>
    public static async Task<int> SignOutEverywhereAsync(DbSession s, Guid clinicId, Guid staffId, string reason, CancellationToken ct)
    {
        var g = await s.QuerySingleOrDefaultAsync<int?>("""
            update staff_accounts set session_generation = session_generation + 1, updated_at = now()
            where clinic_id = @C and id = @Id returning session_generation
            """, new { C = clinicId, Id = staffId }, ct);
        if (g is not null) await AuditLog.WriteAsync(s, clinicId, "staff_signed_out_everywhere", "staff", staffId.ToString(), new { reason }, ct);
        return g ?? 0;
    }

    /// <summary>Re-checks the password for a sensitive change (turning TOTP off); a wrong one counts towards the lockout.</summary>
    public async Task<bool> PasswordMatchesAsync(Guid clinicId, Guid staffId, string? password, CancellationToken ct)
    {
        var account = await ReadAsync(clinicId, staffId, ct);
        if (account is null || string.IsNullOrEmpty(password) || password.Length > 256) return false;
        if (Hasher.VerifyHashedPassword(account, account.PasswordHash, password) != PasswordVerificationResult.Failed) return true;
        await FailAsync(account, "password", ct);
        return false;
    }

    // --- TOTP enrolment --------------------------------------------------------------------------

    static byte[] TotpAad(Guid clinicId, Guid staffId) => Encoding.UTF8.GetBytes($"frontdesk:staff-totp:{clinicId:N}:{staffId:N}");

    byte[] Unwrap(Guid clinicId, Guid staffId, string keyId, byte[] wrapped) => keks.Unwrap(keyId, wrapped, TotpAad(clinicId, staffId));

    /// <summary>Starts (or restarts) enrolment: a new secret kept as pending until a code from it verifies.</summary>
    public async Task<byte[]> BeginTotpAsync(Guid clinicId, Guid staffId, CancellationToken ct)
    {
        var secret = Totp.NewSecret();
        await db.InTransactionAsync(ClaimsFor(clinicId, staffId), s => s.ExecuteAsync("""
            update staff_accounts set totp_pending = @W, totp_pending_key_id = @K, updated_at = now() where clinic_id = @C and id = @Id
            """, new { W = keks.Wrap(secret, TotpAad(clinicId, staffId)), K = keks.CurrentKeyId, C = clinicId, Id = staffId }, ct), ct);
        return secret;
    }

    sealed record PendingRow(byte[]? Pending, string? KeyId);

    /// <summary>The pending secret, for showing the enrolment page again.</summary>
    public async Task<byte[]?> PendingTotpAsync(Guid clinicId, Guid staffId, CancellationToken ct) =>
        await db.QueryOnceAsync<PendingRow>(ClaimsFor(clinicId, staffId),
                "select totp_pending, totp_pending_key_id from staff_accounts where clinic_id = @C and id = @Id", new { C = clinicId, Id = staffId }, ct)
            is [{ Pending: { } p, KeyId: { } k }] ? Unwrap(clinicId, staffId, k, p) : null;

    /// <summary>Turns TOTP on when <paramref name="code"/> comes from the pending secret.</summary>
    public async Task<bool> ConfirmTotpAsync(Guid clinicId, Guid staffId, string? code, CancellationToken ct)
    {
        if (await PendingTotpAsync(clinicId, staffId, ct) is not { } secret) return false;
        if (Totp.Match(secret, code, clock.GetUtcNow(), null) is not { } step) return false;
        return await db.InTransactionAsync(ClaimsFor(clinicId, staffId), async s =>
        {
            var n = await s.ExecuteAsync("""
                update staff_accounts set totp_secret = totp_pending, totp_key_id = totp_pending_key_id, totp_last_step = @Step,
                       totp_pending = null, totp_pending_key_id = null, updated_at = now()
                where clinic_id = @C and id = @Id and totp_pending is not null
                """, new { Step = step, C = clinicId, Id = staffId }, ct);
            if (n == 1) await AuditLog.WriteAsync(s, clinicId, "staff_totp_enabled", "staff", staffId.ToString(), null, ct);
            return n == 1;
        }, ct);
    }

    public Task<int> DisableTotpAsync(Guid clinicId, Guid staffId, CancellationToken ct) =>
        db.InTransactionAsync(ClaimsFor(clinicId, staffId), async s =>
        {
            var n = await s.ExecuteAsync("""
                update staff_accounts set totp_secret = null, totp_key_id = null, totp_last_step = null,
                       totp_pending = null, totp_pending_key_id = null, updated_at = now()
                where clinic_id = @C and id = @Id and totp_secret is not null
                """, new { C = clinicId, Id = staffId }, ct);
            if (n == 1) await AuditLog.WriteAsync(s, clinicId, "staff_totp_disabled", "staff", staffId.ToString(), null, ct);
            return n;
        }, ct);

    sealed record WrappedTotp(Guid ClinicId, Guid Id, byte[]? Secret, string? KeyId, byte[]? Pending, string? PendingKeyId);

    /// <summary><c>-- rotate-keys</c>: re-wraps every staff TOTP secret (and pending enrolment) under the current
    /// key-encryption key, so a retired master key can be removed without locking anyone out of the console.
    /// <paramref name="clinicId"/> limits it to one clinic (tests share a database with other keys).</summary>
    public async Task<int> RewrapTotpAsync(Guid? clinicId, CancellationToken ct) =>
        await db.InTransactionAsync(RequestClaims.AsSystem(SystemPath.KeyRotation), async s =>
        {
            var rows = await s.QueryAsync<WrappedTotp>("""
                select clinic_id, id, totp_secret, totp_key_id, totp_pending, totp_pending_key_id from staff_accounts
                where (@Clinic::uuid is null or clinic_id = @Clinic)
                  and (totp_key_id <> @Current or totp_pending_key_id <> @Current)
                for update
                """, new { Clinic = clinicId, Current = keks.CurrentKeyId }, ct);
            foreach (var r in rows)
            {
                byte[]? Rewrap(byte[]? wrapped, string? keyId) =>
                    wrapped is null || keyId is null ? wrapped
                    : keyId == keks.CurrentKeyId ? wrapped
                    : keks.Wrap(Unwrap(r.ClinicId, r.Id, keyId, wrapped), TotpAad(r.ClinicId, r.Id));
                await s.ExecuteAsync("""
                    update staff_accounts set totp_secret = @Secret, totp_key_id = case when totp_secret is null then null else @Current end,
                           totp_pending = @Pending, totp_pending_key_id = case when totp_pending is null then null else @Current end
                    where clinic_id = @C and id = @Id
                    """, new { Secret = Rewrap(r.Secret, r.KeyId), Pending = Rewrap(r.Pending, r.PendingKeyId), Current = keks.CurrentKeyId, C = r.ClinicId, r.Id }, ct);
            }
            return rows.Count;
        }, ct);

    public static Task<IReadOnlyList<StaffListItem>> ListAsync(DbSession s, Guid clinicId, CancellationToken ct) =>
        s.QueryAsync<StaffListItem>("""
            select id, email, display_name, role, totp_secret is not null, must_change_password, last_sign_in_at, disabled_at, locked_until
            from staff_accounts where clinic_id = @C order by disabled_at nulls first, lower(display_name)
            """, new { C = clinicId }, ct);

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Console sign-in for an address with no account")]
        public static partial void UnknownAccount(ILogger logger);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Console account {StaffId} of clinic {ClinicId} locked after repeated failures")]
        public static partial void LockedOut(ILogger logger, Guid clinicId, Guid staffId);
    }
}
