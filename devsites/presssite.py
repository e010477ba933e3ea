"""A second press site on 127.0.0.1, unlike president.uz in every way the `generic` source allows.

Development only (tests, demos), standard library only. Where devsites/mirror.py copies president.uz,
this one is built to differ from it:

- languages kk, ru, en; each language version of a story has its own id (ids are not shared);
- addresses with dates and slugs: `/en/press/2024/05/22/talks-with-uzbekistan-4211`; list pages at
  `/{lang}/press` and `/{lang}/press/page/{n}` (the first page has no number);
- dates written with month names, differently on lists (`22 мамыр 2024 ж.`, `22 мая 2024 г.`,
  `May 22, 2024`) and on releases (`2024 жылғы 22 мамыр`, `22 мая 2024 года, 10:30`,
  `22 May 2024`); some releases also carry `article:published_time` in UTC, the evening before;
- a pager with only "next" and "previous" links (no page numbers, no rel=next, addresses with a
  tracking parameter, so only the label says "next"); with `cursor_pager`, pages after the first
  are at `/{lang}/press?cursor=TOKEN` (an opaque token no page-number template can express);
- the body as text blocks separated by `<br><br>` in one container (a single `<br>` is a line
  break inside a block), a "read also" box after it, a thumbnail link without text before each
  list entry's title.

Rendering is pure functions (`render_list_page`, `render_article_page`) over `Article`s.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime as dt
import hashlib
import html
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

__all__ = [
    "LANGS", "SITE_NAMES", "Article", "sample_articles", "article_path", "list_path",
    "list_date_text", "article_date_text", "render_list_page", "render_article_page", "PressSite", "main",
]

LANGS = ("kk", "ru", "en")
SITE_NAMES = {"kk": "Ақорда баспасөз қызметі", "ru": "Пресс-служба Акорды", "en": "Akorda Press Service"}
_WORDS = {
    "kk": {"press": "Баспасөз релиздері", "next": "Келесі →", "prev": "← Алдыңғы", "also": "Сондай-ақ оқыңыз",
           "home": "Басты бет", "contacts": "Байланыс", "views": "Қаралым"},
    "ru": {"press": "Пресс-релизы", "next": "Далее →", "prev": "← Назад", "also": "Читайте также",
           "home": "Главная", "contacts": "Контакты", "views": "Просмотры"},
    "en": {"press": "Press releases", "next": "Next →", "prev": "← Previous", "also": "Read also",
           "home": "Home", "contacts": "Contacts", "views": "Views"},
}
_MONTHS = {
    "kk": ("қаңтар", "ақпан", "наурыз", "сәуір", "мамыр", "маусым", "шілде", "тамыз", "қыркүйек", "қазан",
           "қараша", "желтоқсан"),
    "ru": ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
           "ноября", "декабря"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}


@dataclass
class Article:
    """One language version of a story, with its own id. A block's "\\n" is a line break (one <br>)."""

    id: int
    lang: str
    slug: str
    date: dt.date
    title: str
    blocks: list[str]
    # the ids of the other language versions of the same story, by language
    translations: dict[str, int] = dataclasses.field(default_factory=dict)
    # whether the page also carries article:published_time (in UTC, the evening before)
    timestamp: bool = False


# --- sample stories ---------------------------------------------------------------------------------
_STORIES = [
    {
        "slug": "talks-with-uzbekistan",
        "kk": ("Мемлекет басшысы Өзбекстан Президентімен келіссөздер жүргізді ({n})", [
            "Қазақстан Президенті Өзбекстан Республикасының Президентімен келіссөздер жүргізді.",
            "Тараптар шекара мен су ресурстары, сауда және көлік дәліздері мәселелерін талқылады.",
            "Кездесу қорытындысы бойынша бірқатар құжаттарға қол қойылды.\nТолығырақ: akorda.kz",
        ]),
        "ru": ("Глава государства провел переговоры с Президентом Узбекистана ({n})", [
            "Президент Казахстана провел переговоры с Президентом Республики Узбекистан.",
            "Стороны обсудили вопросы границы и водных ресурсов, торговли и транспортных коридоров.",
            "По итогам встречи подписан ряд документов.\nПодробнее: akorda.kz",
        ]),
        "en": ("Head of State holds talks with President of Uzbekistan ({n})", [
            "The President of Kazakhstan held talks with the President of the Republic of Uzbekistan.",
            "The sides discussed the border and water resources, trade and transport corridors.",
            "A number of documents were signed following the meeting.\nMore: akorda.kz",
        ]),
    },
    {
        "slug": "meeting-on-agriculture",
        "kk": ("Президент ауыл шаруашылығы мәселелері бойынша кеңес өткізді ({n})", [
            "Мемлекет басшысы ауыл шаруашылығын дамыту мәселелері бойынша кеңес өткізді.",
            "Суару жүйелерін жаңғырту және фермерлерді қолдау шаралары қаралды.",
        ]),
        "ru": ("Президент провел совещание по вопросам сельского хозяйства ({n})", [
            "Глава государства провел совещание по вопросам развития сельского хозяйства.",
            "Рассмотрены меры по модернизации ирригационных систем и поддержке фермеров.",
        ]),
        "en": ("President holds meeting on agriculture ({n})", [
            "The Head of State held a meeting on the development of agriculture.",
            "Measures to modernise irrigation systems and support farmers were considered.",
        ]),
    },
    {
        "slug": "congratulations-on-the-holiday",
        "kk": ("Мемлекет басшысы мерекемен құттықтады ({n})", [
            "Президент қазақстандықтарды мерекемен құттықтады.",
            "Құттықтауда елдің бірлігі мен тұрақтылығының маңызы атап өтілді.",
            "Мерекелік іс-шаралар барлық өңірлерде өтеді.",
        ]),
        "ru": ("Глава государства поздравил с праздником ({n})", [
            "Президент поздравил казахстанцев с праздником.",
            "В поздравлении подчеркнута важность единства и стабильности страны.",
            "Праздничные мероприятия пройдут во всех регионах.",
        ]),
        "en": ("Head of State congratulates on the holiday ({n})", [
            "The President congratulated the people of Kazakhstan on the holiday.",
            "The greeting stressed the importance of the unity and stability of the country.",
            "Festive events will be held in all regions.",
        ]),
    },
    {
        "slug": "telephone-conversation",
        "kk": ("Телефон арқылы сөйлесу ({n})", [
            "Мемлекет басшысы шетелдік әріптесімен телефон арқылы сөйлесті.",
            "Екіжақты ынтымақтастықтың өзекті мәселелері талқыланды.",
        ]),
        "ru": ("Телефонный разговор ({n})", [
            "Глава государства провел телефонный разговор с зарубежным коллегой.",
            "Обсуждены актуальные вопросы двустороннего сотрудничества.",
        ]),
        "en": ("Telephone conversation ({n})", [
            "The Head of State had a telephone conversation with a foreign counterpart.",
            "Topical issues of bilateral cooperation were discussed.",
        ]),
    },
]


def sample_articles(stories: int = 25, *, newest: dt.date = dt.date(2024, 5, 22), first_id: int = 4200) -> list[Article]:
    """`stories` stories, 13 days apart (every month's name occurs), in kk, ru and en; every fifth
    story is not translated into English and every seventh exists only in Russian."""
    articles: list[Article] = []
    next_id = first_id
    for n in range(stories):
        story = _STORIES[n % len(_STORIES)]
        day = newest - dt.timedelta(days=13 * (stories - 1 - n))
        langs = ("ru",) if n % 7 == 3 else ("kk", "ru") if n % 5 == 2 else LANGS
        ids = {}
        for lang in langs:
            ids[lang] = next_id
            next_id += 1
        for lang in langs:
            title, blocks = story[lang]
            articles.append(Article(
                id=ids[lang], lang=lang, slug=story["slug"], date=day, title=title.format(n=n + 1),
                blocks=list(blocks), translations={k: v for k, v in ids.items() if k != lang},
                timestamp=n % 3 == 0,
            ))
    return articles


# --- rendering ---------------------------------------------------------------------------------------
def article_path(article: Article) -> str:
    d = article.date
    return f"/{article.lang}/press/{d.year:04d}/{d.month:02d}/{d.day:02d}/{article.slug}-{article.id}"


def list_path(lang: str, page: int = 1) -> str:
    return f"/{lang}/press" if page <= 1 else f"/{lang}/press/page/{page}"


def list_date_text(lang: str, day: dt.date) -> str:
    month = _MONTHS[lang][day.month - 1]
    if lang == "kk":
        return f"{day.day} {month} {day.year} ж."
    if lang == "ru":
        return f"{day.day} {month} {day.year} г."
    return f"{month} {day.day}, {day.year}"


def article_date_text(lang: str, day: dt.date) -> str:
    month = _MONTHS[lang][day.month - 1]
    if lang == "kk":
        return f"{day.year} жылғы {day.day} {month}"
    if lang == "ru":
        return f"{day.day} {month} {day.year} года, 10:30"
    return f"{day.day} {month} {day.year}"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _frame(lang: str, title: str, content: str, head: str = "") -> str:
    words = _WORDS[lang]
    switcher = " ".join(f'<a href="{list_path(code)}" hreflang="{code}">{code.upper()}</a>' for code in LANGS)
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n<title>{_e(title)}</title>\n{head}'
        '<link rel="stylesheet" href="/static/site.css">\n</head>\n<body>\n'
        f'<header class="site-header"><div class="logo"><a href="/{lang}/">{_e(SITE_NAMES[lang])}</a></div>\n'
        f'<nav class="menu"><a href="/{lang}/">{_e(words["home"])}</a> <a href="{list_path(lang)}">{_e(words["press"])}</a> '
        f'<a href="/{lang}/contacts">{_e(words["contacts"])}</a></nav>\n<div class="langs">{switcher}</div></header>\n'
        f'<div class="page">\n{content}\n</div>\n'
        f'<footer class="site-footer"><p>© 2024 {_e(SITE_NAMES[lang])}</p><p>Astana, Akorda<br>010000</p></footer>\n'
        '<script>window.dataLayer = [];</script>\n</body>\n</html>\n'
    )


def _newest_first(articles: Iterable[Article], lang: str) -> list[Article]:
    return sorted((a for a in articles if a.lang == lang), key=lambda a: (a.date, a.id), reverse=True)


def list_pages(articles: Iterable[Article], lang: str, per_page: int) -> int:
    count = len(_newest_first(articles, lang))
    return max(1, -(-count // per_page))


def _pager_href(lang: str, page: int) -> str:
    return f"{list_path(lang, page)}?from=pager"


def cursor_token(lang: str, page: int) -> str:
    """An opaque cursor for a list page (a pager no page-number template can express)."""
    return hashlib.sha1(f"{lang}:{page}".encode()).hexdigest()[:10]


def _cursor_href(lang: str, page: int) -> str:
    return list_path(lang) if page <= 1 else f"{list_path(lang)}?cursor={cursor_token(lang, page)}"


def render_list_page(articles: Iterable[Article], lang: str, page: int, per_page: int = 10,
                     href: Callable[[str, int], str] = _pager_href) -> str | None:
    """A list page, newest first; None past the last page (the server answers 404). `href` gives
    the pager's address of a page."""
    mine = _newest_first(articles, lang)
    last = max(1, -(-len(mine) // per_page))
    if page < 1 or page > last:
        return None
    cards = []
    for article in mine[(page - 1) * per_page: page * per_page]:
        path = article_path(article)
        cards.append(
            '<div class="news-card">\n'
            f'  <a class="news-card__image" href="{path}"><img src="/media/{article.id}.jpg" alt=""></a>\n'
            '  <div class="news-card__body">\n'
            f'    <span class="news-card__date">{_e(list_date_text(lang, article.date))}</span>\n'
            f'    <h3 class="news-card__title"><a href="{path}">{_e(article.title)}</a></h3>\n'
            '  </div>\n</div>'
        )
    words = _WORDS[lang]
    pager = []
    if page > 1:
        pager.append(f'<a class="pager__prev" href="{href(lang, page - 1)}">{_e(words["prev"])}</a>')
    if page < last:
        # the pager's links carry a tracking parameter: the next page is known by its label alone
        pager.append(f'<a class="pager__next" href="{href(lang, page + 1)}">{_e(words["next"])}</a>')
    content = (
        f'<h1 class="page-title">{_e(words["press"])}</h1>\n<div class="news-list">\n' + "\n".join(cards)
        + f'\n</div>\n<div class="pager">{" ".join(pager)}</div>'
    )
    return _frame(lang, f'{words["press"]} | {SITE_NAMES[lang]}', content)


def _body_html(blocks: Sequence[str]) -> str:
    return "<br><br>\n".join(_e(block).replace("\n", "<br>") for block in blocks)


def render_article_page(article: Article, articles: Iterable[Article] = ()) -> str:
    """A release page; `articles` gives the "read also" box (the three newest others in the language)."""
    lang, words = article.lang, _WORDS[article.lang]
    others = [a for a in _newest_first(articles, lang) if a.id != article.id][:3]
    also = "".join(
        f'<li><a href="{article_path(a)}">{_e(a.title)}</a> <span class="date">{_e(list_date_text(lang, a.date))}</span></li>'
        for a in others
    )
    head = f'<meta property="og:title" content="{_e(article.title)}">\n'
    head += f'<meta property="og:image" content="/media/{article.id}.jpg">\n'
    if article.timestamp:
        evening_before = dt.datetime.combine(article.date - dt.timedelta(days=1), dt.time(19, 30))
        head += f'<meta property="article:published_time" content="{evening_before.isoformat()}Z">\n'
    switcher = " ".join(
        f'<a class="translation" href="{_translation_path(article, code, other)}">{code.upper()}</a>'
        for code, other in sorted(article.translations.items()))
    content = (
        '<div class="breadcrumbs">'
        f'<a href="/{lang}/">{_e(words["home"])}</a> / <a href="{list_path(lang)}">{_e(words["press"])}</a></div>\n'
        '<div class="article">\n'
        f'  <div class="article-meta"><span class="article-date">{_e(article_date_text(lang, article.date))}</span>'
        f' <span class="views">{_e(words["views"])}: {article.id % 997}</span></div>\n'
        f'  <h1 class="article-title">{_e(article.title)}</h1>\n'
        f'  <div class="article-translations">{switcher}</div>\n'
        f'  <div class="article-text">\n{_body_html(article.blocks)}\n  </div>\n'
        '</div>\n'
        f'<div class="related"><h2>{_e(words["also"])}</h2><ul>{also}</ul></div>'
    )
    return _frame(lang, f"{article.title} | {SITE_NAMES[lang]}", content, head)


def _translation_path(article: Article, lang: str, other_id: int) -> str:
    d = article.date
    return f"/{lang}/press/{d.year:04d}/{d.month:02d}/{d.day:02d}/{article.slug}-{other_id}"


# --- the server --------------------------------------------------------------------------------------
_LIST = re.compile(r"/(?P<lang>[a-z]{2})/press(?:/page/(?P<page>\d{1,6}))?/?")
_ARTICLE = re.compile(r"/(?P<lang>[a-z]{2})/press/\d{4}/\d{2}/\d{2}/[a-z0-9-]+-(?P<id>\d{1,12})/?")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without this, keep-alive requests stall ~40 ms (Nagle + delayed ACK).
    disable_nagle_algorithm = True
    timeout = 30
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        site = self.server.site
        site.requests.append(self.path)
        status, body = site.answer(self.path)
        payload = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], site: PressSite) -> None:
        self.site = site
        super().__init__(address, _Handler)


class PressSite:
    """The press site on 127.0.0.1 (port 0: a free one). Safe to publish while a client reads."""

    def __init__(self, articles: Iterable[Article] | None = None, *, per_page: int = 10,
                 host: str = "127.0.0.1", port: int = 0, cursor_pager: bool = False) -> None:
        """`cursor_pager`: pages after the first are at /{lang}/press?cursor=TOKEN (opaque), and
        /{lang}/press/page/N does not exist."""
        self._lock = threading.Lock()
        self.cursor_pager = cursor_pager
        self._articles = [copy.deepcopy(a) for a in (sample_articles() if articles is None else articles)]
        self.per_page = per_page
        self.host, self._port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[str] = []

    def __enter__(self) -> PressSite:
        self._server = _Server((self.host, self._port), self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"presssite:{self._port}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._server = self._thread = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def articles(self) -> list[Article]:
        with self._lock:
            return copy.deepcopy(self._articles)

    def publish(self, article: Article) -> None:
        """Add (or replace, by id) a language version; it shows on top of its language's list."""
        with self._lock:
            self._articles = [a for a in self._articles if a.id != article.id] + [copy.deepcopy(article)]

    def pages(self, lang: str) -> int:
        with self._lock:
            return list_pages(self._articles, lang, self.per_page)

    def _list_page_number(self, match: re.Match[str], query: str) -> int | None:
        if not self.cursor_pager:
            return int(match["page"] or 1)
        cursor = dict(parse_qsl(query)).get("cursor")
        if match["page"] or (query and not cursor):
            return None
        if not cursor:
            return 1
        return next((n for n in range(2, self.pages(match["lang"]) + 1) if cursor_token(match["lang"], n) == cursor), None)

    def answer(self, address: str) -> tuple[int, str]:
        path, _, query = address.partition("?")
        articles = self.articles
        if match := _LIST.fullmatch(path):
            number = self._list_page_number(match, query) if match["lang"] in LANGS else None
            if number is not None:
                href = _cursor_href if self.cursor_pager else _pager_href
                page = render_list_page(articles, match["lang"], number, self.per_page, href)
                if page is not None:
                    return 200, page
        elif match := _ARTICLE.fullmatch(path):
            for article in articles:
                if article.id == int(match["id"]) and article.lang == match["lang"] and path.rstrip("/") == article_path(article):
                    return 200, render_article_page(article, articles)
        return 404, "<!DOCTYPE html><html><head><title>404</title></head><body><h1>Not found</h1></body></html>"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devsites.presssite", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port (default: 8081)")
    parser.add_argument("--stories", type=int, default=25)
    parser.add_argument("--per-page", type=int, default=10)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with PressSite(sample_articles(args.stories), per_page=args.per_page, host=args.host, port=args.port) as site:
        print(f"press site on {site.base_url} (Ctrl-C stops)", flush=True)
        for lang in LANGS:
            print(f"  {site.url(list_path(lang))}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
