"""PII redaction (HIPAA Safe Harbor identifiers) with Faker-generated values, and log redaction."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

import pytest
from faker import Faker

from chatbot.safety.log_redaction import RedactingFilter, RedactingFormatter, RedactingStream, install_log_redaction
from chatbot.safety.redact import redact, redact_obj

SEEDS = range(25)


@pytest.fixture(params=SEEDS)
def fake(request: pytest.FixtureRequest) -> Faker:
    f = Faker("en_US")
    f.seed_instance(request.param)
    return f


def _assert_replaced(template: str, value: str, placeholder: str) -> None:
    out = redact(template.format(value))
    assert value not in out, out
    assert placeholder in out, out


def test_names(fake: Faker) -> None:
    first, last = fake.first_name(), fake.last_name()
    for template in ("My name is {}.", "Patient: {} came in today", "I saw Dr. {} yesterday", "Regards,\n{}"):
        out = redact(template.format(f"{first} {last}"))
        assert first not in out and last not in out, out
        assert "[NAME]" in out
    out = redact(f"my daughter {first} has a rash")
    assert first not in out and "[NAME]" in out


def test_phone_numbers(fake: Faker) -> None:
    _assert_replaced("call me on {} after 5", fake.phone_number(), "[PHONE]")
    _assert_replaced("fax: {}", fake.phone_number(), "[PHONE]")


def test_emails_urls_and_ips(fake: Faker) -> None:
    _assert_replaced("write to {} please", fake.email(), "[EMAIL]")
    _assert_replaced("my blog is {}", fake.url(), "[URL]")
    _assert_replaced("logged in from {}", fake.ipv4(), "[IP]")
    _assert_replaced("logged in from {}", fake.ipv6(), "[IP]")


def test_dates(fake: Faker) -> None:
    born = fake.date_of_birth()
    _assert_replaced("I was born on {}", born.isoformat(), "[DATE]")
    _assert_replaced("admitted {}", born.strftime("%m/%d/%Y"), "[DATE]")
    _assert_replaced("surgery on {}", born.strftime("%B %d, %Y"), "[DATE]")
    _assert_replaced("seen on {} at the clinic", born.strftime("%d %B %Y"), "[DATE]")


def test_addresses(fake: Faker) -> None:
    _assert_replaced("I live at {}", fake.street_address(), "[ADDRESS]")
    address = fake.address().replace("\n", ", ")
    out = redact(f"send it to {address}")
    assert fake.postcode() not in out or "[ADDRESS]" in out
    assert address not in out


def test_record_numbers_and_government_ids(fake: Faker) -> None:
    _assert_replaced("SSN {}", fake.ssn(), "[SSN]")
    _assert_replaced("my MRN is {}", fake.bothify("??#######").upper(), "[MRN]")
    _assert_replaced("medical record number: {}", fake.bothify("########"), "[MRN]")
    _assert_replaced("driver's license number {}", fake.bothify("?########").upper(), "[LICENSE]")
    _assert_replaced("passport number {}", fake.passport_number(), "[LICENSE]")
    _assert_replaced("licence plate {}", fake.license_plate(), "[VEHICLE]")


def test_accounts_and_cards(fake: Faker) -> None:
    _assert_replaced("card {} expires soon", fake.credit_card_number(), "[ACCOUNT]")
    _assert_replaced("IBAN {}", fake.iban(), "[ACCOUNT]")
    _assert_replaced("insurance member id {}", fake.bothify("???#########").upper(), "[ACCOUNT]")
    _assert_replaced("account number {}", fake.bban(), "[ACCOUNT]")


def test_device_identifiers(fake: Faker) -> None:
    _assert_replaced("pump serial number {}", fake.bothify("SN-####-????").upper(), "[DEVICE]")
    _assert_replaced("my phone's MAC {}", fake.mac_address(), "[DEVICE]")


@pytest.mark.parametrize(
    "text",
    [
        "I have type 2 diabetes and take 500 mg metformin twice a day for 3 days",
        "BP 120/80, temp 38.5 C, Percocet 5/325 mg, HbA1c 7.2%",
        "Parkinson's disease, Alzheimer's Disease and Down syndrome",
        "Crohn's flare since 2019, on Tylenol and Advil",
        "Call 911 or 988, or Poison Control at 1-800-222-1222",
        "my 6 week old baby has a fever of 100.8F",
        "Hashimoto thyroiditis and Graves Disease; COVID-19 vaccine dose 2",
    ],
)
def test_medical_words_and_measurements_are_kept(text: str) -> None:
    if "1-800-222-1222" in text:
        # A phone number is a phone number; hotline numbers are not personal but the redactor
        # can't tell them apart. They appear in our fixed messages, never in stored user text.
        assert "911" in redact(text) and "988" in redact(text)
        return
    assert redact(text) == text


def test_ages_over_89_are_aggregated() -> None:
    assert redact("my grandmother is 94 years old") == "my grandmother is [AGE 90+]"
    assert redact("he is 45 years old") == "he is 45 years old"


def test_redact_obj_walks_nested_values() -> None:
    data = {"q": "email me at a.b@example.com", "turns": ["SSN 123-45-6789", 3], "t": ("ok",)}
    assert redact_obj(data) == {"q": "email me at [EMAIL]", "turns": ["SSN [SSN]", 3], "t": ("ok",)}


# ------------------------------------------------------------------------------ logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


def test_filter_redacts_message_arguments_and_exception_text() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.safety.redact.filter")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("question from %s: %s", "jane.doe@example.com", "call 415-555-0100")
        try:
            raise ValueError("bad SSN 123-45-6789")
        except ValueError:
            logger.exception("failed for MRN: AB1234567")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    for secret in ("jane.doe@example.com", "415-555-0100", "123-45-6789", "AB1234567"):
        assert secret not in out
    assert "[EMAIL]" in out and "[PHONE]" in out and "[SSN]" in out and "[MRN]" in out


def test_formatter_redacts_the_whole_line() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "user jane@example.com", None, None)
    assert RedactingFormatter(logging.Formatter("%(message)s")).format(record) == "user [EMAIL]"


def test_install_covers_handlers_added_later(restore_logging: None) -> None:
    install_log_redaction()
    install_log_redaction()  # idempotent
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # added after installation, no filter of its own
    logger = logging.getLogger("test.safety.redact.later")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.error("patient %s phone %s", "My name is Maria Lopez", "(555) 123-4567")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "Maria" not in out and "Lopez" not in out and "123-4567" not in out
    assert "[NAME]" in out and "[PHONE]" in out


def test_redacting_stream_redacts_complete_lines() -> None:
    target = io.StringIO()
    stream = RedactingStream(target)
    stream.write("my email is bob")
    stream.write("@example.org\nnext line")
    stream.flush()
    assert target.getvalue() == "my email is [EMAIL]\nnext line"


def _access_record(args: tuple[object, ...]) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)


def test_uvicorn_access_lines_are_formatted_and_redacted() -> None:
    """uvicorn's AccessFormatter unpacks record.args: the filter must keep them a 5-tuple."""
    from uvicorn.logging import AccessFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False))
    logger = logging.getLogger("test.safety.redact.uvicorn_access")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):  # logging reports formatter failures on stderr
            logger.info('%s - "%s %s HTTP/%s" %d', "203.0.113.7:5123", "GET", "/v1/x?email=jo@example.com", "1.1", 200)
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert errors.getvalue() == ""
    assert out == '[IP]:5123 - "GET /v1/x?email=[EMAIL] HTTP/1.1" 200 OK\n'


def test_filter_keeps_argument_shape_and_types() -> None:
    record = _access_record(("198.51.100.4:80", "POST", "/v1/chat", "1.1", 503))
    RedactingFilter().filter(record)
    assert record.args == ("[IP]:80", "POST", "/v1/chat", "1.1", 503)
    assert record.getMessage() == '[IP]:80 - "POST /v1/chat HTTP/1.1" 503'
    mapped = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "%(who)s got %(n)d", ({"who": "bob@example.org", "n": 3},), None
    )
    RedactingFilter().filter(mapped)
    assert mapped.args == {"who": "[EMAIL]", "n": 3}
    assert mapped.getMessage() == "[EMAIL] got 3"


def test_identifiers_split_across_arguments_are_still_redacted() -> None:
    """Pieces that are harmless alone but form an SSN once formatted: the line is redacted, and
    the argument tuple keeps its length (the message then ignores it)."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "ssn %s-%s-%s", ("123", "45", "6789"), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "ssn [SSN]"
    assert isinstance(record.args, tuple) and len(record.args) == 3
    number = logging.LogRecord("x", logging.INFO, __file__, 1, "call %d now, 100%% sure", (4155550100,), None)
    RedactingFilter().filter(number)
    assert number.getMessage() == "call [PHONE] now, 100% sure"


def test_bytes_and_objects_in_arguments_are_redacted() -> None:
    class Visitor:
        def __str__(self) -> str:
            return "visitor jane.doe@example.com"

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s %s", (b"ip 10.1.2.3", Visitor(), 2.5), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "b'ip [IP]' visitor [EMAIL] 2.5"
    assert isinstance(record.args, tuple) and record.args[2] == 2.5


def test_the_servers_own_loopback_address_stays_readable() -> None:
    """Issue 15: the start-up log read "Uvicorn running on [URL]"."""
    line = "Uvicorn running on http://127.0.0.1:7860 (Press CTRL+C to quit)"
    assert redact(line) == line
    assert redact("open http://localhost:7860/clinician/") == "open http://localhost:7860/clinician/"
    assert redact("from 127.0.0.1 and 10.1.2.3") == "from 127.0.0.1 and [IP]"
    assert redact("see http://127.0.0.1.example.com/x") == "see [URL]"  # a host that only starts like it
