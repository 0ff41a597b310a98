"""The bot filter: maintained lists, the allow list for native players, the verdict cache."""

import pytest

from analytics.services.bots import CACHE_SIZE, MAX_LENGTH, BotFilter

BOTS = {
    "Googlebot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; "
                 "+http://www.google.com/bot.html) Chrome/131.0.6778.204 Safari/537.36",
    "bingbot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
               "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "HeadlessChrome": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "HeadlessChrome/131.0.0.0 Safari/537.36",
    "PhantomJS": "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
                 "PhantomJS/2.1.1 Safari/538.1",
    "python-requests": "python-requests/2.32.3",
    "curl": "curl/8.5.0",
    "Go-http-client": "Go-http-client/2.0",
    "Wget": "Wget/1.21.4",
    "facebookexternalhit": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot link preview": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "UptimeRobot": "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Feedly": "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 16 subscribers; like FeedFetcher-Google)",
}

BROWSERS = {
    "Chrome, Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/131.0.0.0 Safari/537.36",
    "Chrome, macOS": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/131.0.0.0 Safari/537.36",
    "Chrome, Android": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Chrome, iPhone": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
                      "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    "Firefox, Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Firefox, Linux": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Firefox, Android": "Mozilla/5.0 (Android 15; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
    "Safari, macOS": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                     "Version/18.1 Safari/605.1.15",
    "Safari, iPhone": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
                      "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Safari, iPad": "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                    "Version/18.1 Mobile/15E148 Safari/604.1",
    "Edge, Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Edge, Android": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0",
    "Samsung Internet": "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
                        "SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36",
}

NATIVE_PLAYERS = [
    "okhttp/4.12.0",
    "ExoPlayerLib/2.19.1",
    "MyApp/3.2 (Linux;Android 14) ExoPlayerLib/2.19.1",
    "AppleCoreMedia/1.0.0.21F90 (iPhone; U; CPU OS 17_5_1 like Mac OS X; en_us)",
]
PLAYER_ALLOW = ["okhttp", "ExoPlayer", "AppleCoreMedia"]


@pytest.mark.parametrize("user_agent", BOTS.values(), ids=BOTS.keys())
def test_known_bots_are_bots(user_agent):
    assert BotFilter().is_bot(user_agent) is True


@pytest.mark.parametrize("user_agent", BROWSERS.values(), ids=BROWSERS.keys())
def test_current_browsers_are_not_bots(user_agent):
    assert BotFilter().is_bot(user_agent) is False


@pytest.mark.parametrize("user_agent", [None, "", "   ", "\t"])
def test_a_missing_or_blank_user_agent_is_a_bot(user_agent):
    assert BotFilter(allow=PLAYER_ALLOW).is_bot(user_agent) is True


@pytest.mark.parametrize("user_agent", NATIVE_PLAYERS)
def test_native_players_on_the_allow_list_are_viewers(user_agent):
    assert BotFilter(allow=PLAYER_ALLOW).is_bot(user_agent) is False


def test_the_allow_list_flips_what_the_lists_call_bots():
    flagged = [ua for ua in NATIVE_PLAYERS if BotFilter().is_bot(ua)]
    assert "okhttp/4.12.0" in flagged  # both lists name okhttp; the allow list exists for this
    allowed = BotFilter(allow=PLAYER_ALLOW)
    assert [ua for ua in flagged if allowed.is_bot(ua)] == []


@pytest.mark.parametrize("allow", [["OKHTTP"], ["  okhttp/ "], ["OkHttp"]])
def test_the_allow_list_ignores_case_and_surrounding_spaces(allow):
    assert BotFilter(allow=allow).is_bot("okhttp/4.12.0") is False


def test_blank_allow_entries_let_nothing_through():
    assert BotFilter(allow=["", "  "]).is_bot(BOTS["curl"]) is True


def test_an_overlong_user_agent_is_a_bot_unless_allowed_and_is_not_cached():
    bot_filter = BotFilter(allow=["MyApp/"])
    padding = "a" * MAX_LENGTH
    assert bot_filter.is_bot(BROWSERS["Chrome, Windows"] + padding) is True
    assert bot_filter.is_bot("MyApp/1.0 " + padding) is False
    assert bot_filter.cache_info().currsize == 0


def test_a_repeated_user_agent_is_answered_from_the_cache():
    bot_filter = BotFilter()
    first = [bot_filter.is_bot(ua) for ua in (BOTS["curl"], BROWSERS["Safari, iPhone"])]
    again = [bot_filter.is_bot(ua) for ua in (BOTS["curl"], BROWSERS["Safari, iPhone"])]
    assert first == again == [True, False]
    info = bot_filter.cache_info()
    assert (info.hits, info.misses, info.currsize) == (2, 2, 2)


def test_the_cache_is_bounded():
    bot_filter = BotFilter()
    for n in range(CACHE_SIZE + 10):
        bot_filter.is_bot(f"probe/{n}")
    info = bot_filter.cache_info()
    assert info.maxsize == CACHE_SIZE
    assert info.currsize == CACHE_SIZE


def test_each_filter_keeps_its_own_verdicts():
    strict, lenient = BotFilter(), BotFilter(allow=["okhttp"])
    assert strict.is_bot("okhttp/4.12.0") is True
    assert lenient.is_bot("okhttp/4.12.0") is False
    assert strict.is_bot("okhttp/4.12.0") is True


@pytest.mark.parametrize("user_agent", [
    "Mozilla/5.0 (X11) " + "a" * 65,  # a run the lists' generic pattern would take quadratic time over
    "Mozilla/5.0 (X11) " + "x-" * 40,
    "Mozilla/5.0\x00(X11; Linux x86_64)",  # a control character no browser sends
    "\x01\x02",
])
def test_a_crafted_user_agent_is_a_bot_without_reading_the_lists(user_agent):
    bots = BotFilter()
    assert bots.is_bot(user_agent) is True


def test_a_long_run_of_letters_passes_when_allowed():
    assert BotFilter(allow=["MyApp/"]).is_bot("MyApp/1.0 " + "a" * 100) is False
    assert BotFilter().is_bot("Mozilla/5.0 (X11) " + "a" * 64 + " Firefox/133.0") is False  # the limit itself


def test_a_long_run_is_judged_once_and_remembered():
    bots = BotFilter()
    crafted = "Mozilla/5.0 (X11) " + "a" * 65
    assert [bots.is_bot(crafted), bots.is_bot(crafted)] == [True, True]
    info = bots.cache_info()
    assert (info.hits, info.misses) == (1, 1)


@pytest.mark.parametrize("user_agent", [
    "MyApp/1.0\t" + "a" * 100,  # a long run
    "MyApp/1.0\t" + "a b " * MAX_LENGTH,  # overlong
    "MyApp/1.0\tshort",
])
def test_the_allow_list_never_lets_a_control_character_through(user_agent):
    assert BotFilter(allow=["MyApp/"]).is_bot(user_agent) is True
