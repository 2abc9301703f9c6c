namespace Frontdesk.Privacy.Detection;

/// <summary>The entity type names the detector emits; also the names used in labelled data files.</summary>
public static class PiiTypes
{
    public const string Email = "email";
    public const string Phone = "phone";
    public const string Ssn = "ssn";
    public const string CreditCard = "credit_card";
    public const string NhsNumber = "nhs_number";
    public const string NiNumber = "ni_number";
    public const string DateOfBirth = "date_of_birth";
    public const string Address = "address";
    public const string Name = "name";
    public const string Medical = "medical";
    public const string Allergy = "allergy";
    public const string Medication = "medication";

    public static IReadOnlyList<string> All { get; } =
        [Email, Phone, Ssn, CreditCard, NhsNumber, NiNumber, DateOfBirth, Address, Name, Medical, Allergy, Medication];
}
