#!/usr/bin/env python3
"""Builds clinic-utterances.jsonl: labelled phone-call utterances for the PII detector.

Utterances are written with inline labels, {type|value}, and this script strips the markup and computes offsets,
then checks text[start:end] == value for every entity. Run from the repository root:
    python3 bench/data/make-clinic-utterances.py > bench/data/clinic-utterances.jsonl
Every identity here is invented; numbers are generated to pass (or, where the line says so, to fail) their checksums.
"""
import json
import random
import re
import sys

rng = random.Random(20240611)


def luhn_complete(prefix, length):
    digits = [int(c) for c in prefix]
    while len(digits) < length - 1:
        digits.append(rng.randrange(10))
    for check in range(10):
        total = 0
        for i, d in enumerate(reversed(digits + [check])):
            if i % 2 == 1:
                d *= 2
                if d > 9:
                    d -= 9
            total += d
        if total % 10 == 0:
            return "".join(map(str, digits + [check]))


def nhs_number():
    while True:
        d = [rng.randrange(10) for _ in range(9)]
        d[0] = rng.choice([3, 4, 6, 9])
        check = 11 - sum(x * (10 - i) for i, x in enumerate(d)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            s = "".join(map(str, d + [check]))
            return f"{s[:3]} {s[3:6]} {s[6:]}"


def ssn():
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}"


def ni_number():
    first = rng.choice("ABCEGHJKLMNOPRSTWXYZ")
    second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    if first + second in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
        return ni_number()
    n = f"{rng.randrange(10**6):06d}"
    return f"{first}{second} {n[:2]} {n[2:4]} {n[4:]} {rng.choice('ABCD')}"


def card(grouped=True):
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16), ("4", 13), ("62", 19)])
    n = luhn_complete(prefix, length)
    if not grouped:
        return n
    if length == 15:
        return f"{n[:4]} {n[4:10]} {n[10:]}"
    return " ".join(n[i:i + 4] for i in range(0, len(n), 4))


uk_mobile = lambda: f"07700 900{rng.randrange(1000):03d}"
uk_landline = lambda: rng.choice(["020 7946 0", "0161 496 0", "0113 496 0", "0131 496 0"]) + f"{rng.randrange(1000):03d}"
us_phone = lambda: rng.choice(["({a}) 555-01{b}", "{a}-555-01{b}", "{a}.555.01{b}"]).format(
    a=rng.choice([212, 312, 415, 617, 713, 206, 303]), b=f"{rng.randrange(100):02d}")

given = ["Sarah", "James", "Emily", "Oliver", "Priya", "Mohammed", "Grace", "Daniel", "Aisha", "Thomas", "Chloe", "Michael",
         "Hannah", "David", "Olivia", "William", "Megan", "Joseph", "Laura", "Samuel", "Rebecca", "Jack", "Fatima", "Liam"]
family = ["Thompson", "Patel", "O'Brien", "Nguyen", "Williams", "Kowalski", "Hughes", "Okafor", "Campbell", "Fraser",
          "Martinez", "Jenkins", "Schneider", "Robinson", "Ahmed", "Davies", "Walsh", "Bennett", "Murphy", "Khan"]
uk_addresses = ["14 Elm Grove, Leeds LS6 2AB", "27 Harley Street, London W1G 9QY", "Flat 3, 88 Victoria Road, Bristol BS1 6AA",
                "5 Mill Lane, Cambridge CB2 1RX", "112 Kingsway, Manchester M19 2LL", "9 Rosemary Close, Oxford OX4 3UQ",
                "41 Queen's Crescent, Glasgow G4 9BN", "3 Church Mews, York YO1 7HH", "60 Station Road, Cardiff CF14 5UX"]
us_addresses = ["123 Main St, Springfield, IL 62704", "4500 Oak Avenue, Apt 12, Austin, TX 78701",
                "77 Maple Drive, Denver, CO 80203", "908 Lakeview Blvd, Seattle, WA 98109", "15 Pine Street, Boston, MA 02108",
                "2200 Sunset Boulevard, Suite 300, Los Angeles, CA 90026", "61 Cedar Court, Portland, OR 97205"]
dobs = ["14 March 1985", "3rd of July 1962", "12/05/1990", "09/23/1978", "January 5th, 2001", "1975-11-30", "21st of June 1949",
        "28.02.1993", "May 17, 1988"]
conditions = ["asthma", "type 2 diabetes", "high blood pressure", "heart failure", "epilepsy", "COPD", "arthritis",
              "migraines", "hypothyroidism", "depression", "atrial fibrillation", "kidney disease", "sleep apnoea", "angina"]
allergens = ["penicillin", "peanuts", "latex", "shellfish", "amoxicillin", "codeine", "bee stings", "ibuprofen", "eggs", "sulfa drugs"]
drugs = ["metformin", "atorvastatin", "ramipril", "levothyroxine", "amlodipine", "sertraline", "omeprazole", "warfarin",
         "salbutamol", "lisinopril", "apixaban", "gabapentin", "bisoprolol"]
domains = ["gmail", "outlook", "yahoo", "hotmail", "icloud"]

# Hand-written utterances: what callers say, with inline labels.
LINES = [
    "My address is {address|123 Harley Street} and I have a history of {medical|heart issues}.",
    "I'm allergic to {allergy|penicillin}.",
    "I take 20 mg of {medication|atorvastatin} every night.",
    "Hi, this is {name|Sarah Thompson}, I'd like to book an appointment with Dr {name|Patel}, please.",
    "Hello, my name is {name|James O'Brien} and I'm calling about my test results.",
    "Can I speak to Dr. {name|Nguyen}? It's about my son's {medical|asthma}.",
    "It's {name|Emily Carter} here, date of birth {date_of_birth|14/02/1987}.",
    "I was born on {date_of_birth|3 August 1956} and my NHS number is {nhs_number|943 476 5919}.",
    "My email is {email|john.smith@gmail.com} if you need to send the forms.",
    "You can email me at {email|john dot smith at gmail dot com}.",
    "My email's {email|priya underscore patel at outlook dot com}, all lower case.",
    "Call me back on {phone|07700 900123} after five.",
    "My mobile is {phone|+44 7700 900456}.",
    "The best number is {phone|(212) 555-0147}, extension 12 doesn't work anymore.",
    "You can reach me at {phone|617.555.0199} any time tomorrow.",
    "My work number is {phone|020 7946 0321 ext. 204}.",
    "My social security number is {ssn|219-09-9999}.",
    "Please charge the card {credit_card|4111 1111 1111 1111}, expiry next May.",
    "I'd like to pay with my Visa, {credit_card|4012 8888 8888 1881}.",
    "My national insurance number is {ni_number|AB 12 34 56 C}.",
    "I've been diagnosed with {medical|type 2 diabetes} and I'm on {medication|metformin}.",
    "I suffer from {medical|migraines}, especially in the mornings.",
    "She's got a {allergy|peanut} allergy, so please note she's allergic to {allergy|peanuts}.",
    "I'm currently taking {medication|lisinopril} and {medication|amlodipine} for my {medical|high blood pressure}.",
    "I was prescribed {medication|sertraline} last year for {medical|anxiety}.",
    "I moved recently, the new address is {address|4500 Oak Avenue, Apt 12, Austin, TX 78701}.",
    "We live at {address|Flat 3, 88 Victoria Road, Bristol BS1 6AA}.",
    "Send the letter to {address|27 Harley Street, London W1G 9QY}, please.",
    "My postcode is {address|LS6 2AB}.",
    "This is {name|Mohammed Khan}, calling for my mother, {name|Fatima Khan}.",
    "I'm {name|Grace Hughes}, I was in last week with {medical|bronchitis}.",
    "Hi, {name|Daniel Fraser} speaking, I need a repeat prescription for {medication|salbutamol}.",
    "Can you tell Mrs {name|Campbell} that her results are back?",
    "Is {name|Mr. Okafor} still the practice manager?",
    "My date of birth is the {date_of_birth|21st of June 1949}.",
    "DOB {date_of_birth|09/23/1978}, last name {name|Martinez}.",
    "I'd like an appointment on the 14th of March, any time in the morning.",
    "Is the clinic open on May 5th?",
    "Will the doctor be in on Monday?",
    "May I ask whether the surgery does travel vaccinations?",
    "I have a question about my bill.",
    "The appointment is at 3 pm on 12/05/2024.",
    "Can I book a blood test for next Tuesday?",
    "My reference number is 58213.",
    "I need to cancel my appointment for tomorrow, something came up.",
    "I'm calling about the MRI scan I had in April.",
    "What time does Park Lane Surgery close on Fridays?",
    "My husband {name|Thomas Bennett} has a history of {medical|strokes} and is on {medication|warfarin}.",
    "I have {medical|asthma} and I use a {medication|ventolin} inhaler.",
    "I'm allergic to {allergy|latex} and {allergy|shellfish}.",
    "He had a bad reaction to {allergy|amoxicillin} as a child.",
    "No known allergies, but I'm on {medication|levothyroxine} 100 micrograms.",
    "The doctor put me on {medication|omeprazole} for my {medical|acid reflux}.",
    "Last year I was treated for {medical|pneumonia}.",
    "I've got {medical|COPD} and my oxygen levels have been low.",
    "My daughter {name|Chloe} has {medical|epilepsy}.",
    "Our son was diagnosed with {medical|ADHD} in the spring.",
    "I'm ringing on behalf of {name|Hannah Davies}, her number is {phone|0161 496 0742}.",
    "Text me on {phone|0 7 7 0 0 9 0 0 3 8 1}.",
    "Please call {phone|303-555-0110} and ask for {name|Laura}.",
    "My card number is {credit_card|5555555555554444}.",
    "Is my NHS number {nhs_number|401 023 2137}? I can't read my letter.",
    "SSN {ssn|078-05-1120}, date of birth {date_of_birth|January 5th, 2001}.",
    "The address is {address|77 Maple Drive, Denver, CO 80203}, and my phone is {phone|(303) 555-0175}.",
    "{name|Rebecca Walsh}, {address|9 Rosemary Close, Oxford OX4 3UQ}.",
    "Yeah so it's {name|Jack Murphy}, that's M-U-R-P-H-Y.",
    "Could you update my email to {email|megan.jenkins@yahoo.co.uk}?",
    "My email is {email|liam dot khan at hotmail dot co dot uk}.",
    "I'm on {medication|bisoprolol} for {medical|atrial fibrillation}.",
    "I suffer from {medical|sleep apnoea} and use a CPAP machine.",
    "I have a history of {medical|kidney stones} so I can't take {medication|ibuprofen}.",
    "I'm {name|Olivia Schneider}, I'm allergic to {allergy|eggs}.",
    "She is allergic to {allergy|bee stings}.",
    "My insurance number is {ni_number|JG 10 37 59 A}.",
    "The patient, {name|William Robinson}, lives at {address|15 Pine Street, Boston, MA 02108}.",
    "I'm calling from {address|3 Church Mews, York YO1 7HH}; the ambulance went to the wrong door.",
    "My details: {name|Samuel Ahmed}, born {date_of_birth|1975-11-30}, mobile {phone|07700 900772}.",
    "Thanks, bye.",
    "Sorry, could you repeat that?",
    "I'd rather not give my card details over the phone.",
    "The pharmacy on the high street said the prescription wasn't ready.",
    "It started on the 2nd of January and hasn't stopped.",
    "My blood pressure was 140 over 90 this morning.",
    "We'll be there at 10:30 on Thursday.",
    "Can I get a sick note for work?",
    "It's about my grandmother, she's 92 and has {medical|dementia}.",
    "I was born in {date_of_birth|1962}, on the {date_of_birth|3rd of July}.",
    "I have {medical|high cholesterol} so they put me on {medication|simvastatin}.",
    "I'm pregnant and I was taking {medication|folic acid}.",
    "Dr {name|Kowalski} told me to ring back.",
    "Ms {name|Aisha Okafor} is my carer and can speak for me.",
]

# Template utterances filled from the pools above, for breadth across formats.
TEMPLATES = [
    "Hi, my name is {name|%G %F}, date of birth {date_of_birth|%DOB}.",
    "This is {name|%G %F}, my number is {phone|%UKM}.",
    "Hello, it's {name|%G %F} calling, you can reach me on {phone|%UKL}.",
    "I'm {name|%G %F} and my phone number is {phone|%USP}.",
    "My address is {address|%UKA}.",
    "I live at {address|%USA}.",
    "The address on file should be {address|%UKA}, not the old one.",
    "My email is {email|%g.%f@%d.com}.",
    "My email is {email|%g dot %f at %d dot com}.",
    "I was born on {date_of_birth|%DOB}.",
    "My NHS number is {nhs_number|%NHS}.",
    "My national insurance number is {ni_number|%NI}.",
    "My social security number is {ssn|%SSN}.",
    "Can I pay with card {credit_card|%CARD}?",
    "The card number is {credit_card|%CARDN}.",
    "I have a history of {medical|%COND}.",
    "I was diagnosed with {medical|%COND} a few years ago.",
    "I'm allergic to {allergy|%ALL}.",
    "I take {medication|%DRUG} every morning.",
    "I'm on 40 mg of {medication|%DRUG}.",
    "My husband, {name|%G %F}, was prescribed {medication|%DRUG}.",
    "Mr {name|%F} asked me to call about his {medical|%COND}.",
]


def fill(template):
    g, f = rng.choice(given), rng.choice(family)
    values = {
        "%G": g, "%F": f, "%g": g.lower(), "%f": f.lower().replace("'", ""), "%d": rng.choice(domains),
        "%DOB": rng.choice(dobs), "%UKM": uk_mobile(), "%UKL": uk_landline(), "%USP": us_phone(),
        "%UKA": rng.choice(uk_addresses), "%USA": rng.choice(us_addresses), "%NHS": nhs_number(), "%NI": ni_number(),
        "%SSN": ssn(), "%CARD": card(True), "%CARDN": card(False), "%COND": rng.choice(conditions),
        "%ALL": rng.choice(allergens), "%DRUG": rng.choice(drugs),
    }
    return re.sub(r"%[A-Za-z]+", lambda m: values[m.group(0)], template)


LABEL = re.compile(r"\{(\w+)\|([^{}]+)\}")


def parse(marked, uid):
    text, entities, pos = "", [], 0
    for m in LABEL.finditer(marked):
        text += marked[pos:m.start()]
        start = len(text)
        text += m.group(2)
        entities.append({"type": m.group(1), "start": start, "end": len(text), "value": m.group(2)})
        pos = m.end()
    text += marked[pos:]
    for e in entities:
        assert text[e["start"]:e["end"]] == e["value"], (uid, e)
    return {"id": uid, "text": text, "entities": entities}


def main():
    rows = [parse(line, f"clinic:{i + 1}") for i, line in enumerate(LINES)]
    n = len(rows)
    for round_ in range(4):
        for template in TEMPLATES:
            n += 1
            rows.append(parse(fill(template), f"clinic:{n}"))
    for row in rows:
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} utterances", file=sys.stderr)


if __name__ == "__main__":
    main()
