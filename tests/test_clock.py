"""The clock: its moment, its whole second and its local period agree, on the system clock and a set one."""

from datetime import date, datetime, timedelta, timezone

from analytics.clock import Clock, ManualClock

PARIS_SUMMER = timezone(timedelta(hours=2))


def test_the_system_clocks_second_is_the_second_of_its_moment():
    clock = Clock("Europe/Paris")
    before = clock.now().timestamp() // 1
    second = clock.second()
    after = clock.now().timestamp() // 1
    assert before <= second <= after
    assert clock.now().tzinfo is timezone.utc


def test_a_set_clock_in_another_offset_answers_in_utc():
    clock = ManualClock(datetime(2026, 7, 1, 1, 30, 0, 900_000, tzinfo=PARIS_SUMMER), "Europe/Paris")
    assert clock.now() == datetime(2026, 6, 30, 23, 30, 0, 900_000, tzinfo=timezone.utc)
    assert clock.now().tzinfo is timezone.utc
    assert clock.second() == datetime(2026, 6, 30, 23, 30, tzinfo=timezone.utc).timestamp()
    # 01:30 in Paris is already July there, though June in UTC.
    assert clock.period().day == clock.period(clock.now()).day == date(2026, 7, 1)
    assert clock.period().month == date(2026, 7, 1)


def test_a_clock_that_tells_its_own_time_is_asked_for_its_second():
    class Fixed(Clock):
        def now(self):
            return datetime(2026, 1, 1, 12, 0, 30, tzinfo=timezone.utc)

    assert Fixed().second() == datetime(2026, 1, 1, 12, 0, 30, tzinfo=timezone.utc).timestamp()
    assert Fixed("Asia/Tokyo").period().day == date(2026, 1, 1)


def test_the_period_turns_at_local_midnight_to_the_second():
    clock = ManualClock(datetime(2026, 3, 14, 22, 59, 59, 999_999, tzinfo=timezone.utc), "Europe/Paris")
    assert clock.period().day == date(2026, 3, 14)
    clock.advance(microseconds=1)
    assert clock.period().day == date(2026, 3, 15)
