"""A site-shaped stand-in for president.uz on 127.0.0.1, for tests, benchmarks and demos.

Nothing here can reach the real site, so this server reproduces what docs/SITE.md (from the project's shared SITE.md) records
as confirmed (addresses, ids, the list anchors followed by a DD-MM-YYYY date, the item date line
DD.MM.YYYY next to the headline, no <article>/<main>/<time>, site chrome in every language) and lets
a test change the site while a client crawls it: publish, edit, remove, layout drift, robots.txt,
the site going down, and a list of faults consulted before normal serving.

Rendering is pure functions (`render_list_page`, `render_item_page`) so cassettes can be built from
the same markup without a server. Standard library only.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime as dt
import email.utils
import hashlib
import html
import logging
import math
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, quote, urlsplit

__all__ = [
    "LANGS",
    "LAYOUTS",
    "PAGERS",
    "PAST_END",
    "SITE_NAMES",
    "SOURCE_LABELS",
    "SEED_PATH",
    "Version",
    "Release",
    "sample_releases",
    "sample_topics",
    "seed_release",
    "default_releases",
    "image_uuid",
    "image_path",
    "thumb_path",
    "render_list_page",
    "render_item_page",
    "render_not_found",
    "Response",
    "LoggedRequest",
    "RequestLog",
    "Fault",
    "FaultRule",
    "Status",
    "Latency",
    "Reset",
    "Hang",
    "Truncated",
    "Charset",
    "Redirect",
    "Oversized",
    "Mirror",
    "main",
]

log = logging.getLogger(__name__)

LANGS = ("uz", "oz", "ru", "en")
LAYOUTS = ("default", "drifted", "empty")
# How list pages link onwards ("full": numbers, next and last; "none": no pager at all, as on a
# site that loads more by script) and what a page number past the end answers ("empty": a page
# without items; "last": the last page again, as many sites do; "404").
PAGERS = ("full", "none")
PAST_END = ("empty", "last", "404")
SEED_PATH = Path(__file__).resolve().parent.parent / "tests" / "data" / "seed_5782_uz.txt"

SITE_NAMES = {
    "uz": "Ўзбекистон Республикаси Президентининг расмий веб-сайти",
    "oz": "O'zbekiston Respublikasi Prezidentining rasmiy veb-sayti",
    "ru": "Официальный веб-сайт Президента Республики Узбекистан",
    "en": "Official website of the President of the Republic of Uzbekistan",
}
# The label of the closing line that cites the page itself (the seed shows " Манба" + address).
SOURCE_LABELS = {"uz": "Манба", "oz": "Manba", "ru": "Источник", "en": "Source"}

_CHROME = {
    "uz": {
        "html_lang": "uz-Cyrl", "search": "Сайт бўйича қидириш", "font": "Шрифт ўлчами",
        "social": "Ижтимоий тармоқлардаги расмий саҳифалар", "news": "Янгиликлар",
        "meetings": "Учрашувлар", "speeches": "Нутқлар", "home": "Бош саҳифа",
        "latest": "Сўнгги янгиликлар", "not_found": "Саҳифа топилмади",
        "rights": "Барча ҳуқуқлар ҳимояланган", "share": "Улашиш",
    },
    "oz": {
        "html_lang": "uz-Latn", "search": "Sayt bo‘yicha qidirish", "font": "Shrift o‘lchami",
        "social": "Ijtimoiy tarmoqlardagi rasmiy sahifalar", "news": "Yangiliklar",
        "meetings": "Uchrashuvlar", "speeches": "Nutqlar", "home": "Bosh sahifa",
        "latest": "So‘nggi yangiliklar", "not_found": "Sahifa topilmadi",
        "rights": "Barcha huquqlar himoyalangan", "share": "Ulashish",
    },
    "ru": {
        "html_lang": "ru", "search": "Поиск по сайту", "font": "Размер шрифта",
        "social": "Официальные страницы в социальных сетях", "news": "Новости",
        "meetings": "Встречи", "speeches": "Выступления", "home": "Главная",
        "latest": "Последние новости", "not_found": "Страница не найдена",
        "rights": "Все права защищены", "share": "Поделиться",
    },
    "en": {
        "html_lang": "en", "search": "Search on site", "font": "Font size",
        "social": "Official pages in social networks", "news": "News",
        "meetings": "Meetings", "speeches": "Speeches", "home": "Home",
        "latest": "Latest news", "not_found": "Page not found",
        "rights": "All rights reserved", "share": "Share",
    },
}
_LANG_LABELS = {"uz": "Ўзб", "oz": "O‘zb", "ru": "Рус", "en": "Eng"}


# --------------------------------------------------------------------------------------------
# Data model


@dataclass
class Version:
    """One language version of a release. Paragraphs are rendered verbatim (escaped only)."""

    title: str
    paragraphs: list[str]
    # Site paths of the release's images; empty means the one deterministic cover image.
    images: list[str] = field(default_factory=list)


@dataclass
class Release:
    """A press release: one id shared by every language version (SITE.md)."""

    id: int
    date: dt.date
    versions: dict[str, Version]
    date_after_title: bool = False


def image_uuid(release_id: int, n: int = 0) -> str:
    """Deterministic stand-in for the site's upload uuid, so markup is stable across runs."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"president.uz/uploads/{release_id}/{n}"))


def image_path(release_id: int, n: int = 0) -> str:
    return f"/uploads/{image_uuid(release_id, n)}.jpg"


def thumb_path(release_id: int) -> str:
    return f"/uploads/{image_uuid(release_id)}_lists_{release_id}.jpg"


# --------------------------------------------------------------------------------------------
# Synthetic releases
#
# Stories are written per language (not machine-made), with a region slot {r} so 24 releases get
# distinct titles. Some stories carry the starting topics (Kazakhstan, border, water) in every
# language; others carry the hard negatives from TOPICS.md (сувенир, суверенитет, за границей,
# руководство, производство, чегара билмас, souvenir, sovereignty) so topic tests have both.

_REGIONS = [
    {"uz": "Самарқанд", "oz": "Samarqand", "ru": "Самаркандской", "en": "Samarkand"},
    {"uz": "Бухоро", "oz": "Buxoro", "ru": "Бухарской", "en": "Bukhara"},
    {"uz": "Хоразм", "oz": "Xorazm", "ru": "Хорезмской", "en": "Khorezm"},
    {"uz": "Наманган", "oz": "Namangan", "ru": "Наманганской", "en": "Namangan"},
    {"uz": "Фарғона", "oz": "Farg‘ona", "ru": "Ферганской", "en": "Fergana"},
    {"uz": "Қашқадарё", "oz": "Qashqadaryo", "ru": "Кашкадарьинской", "en": "Kashkadarya"},
    {"uz": "Навоий", "oz": "Navoiy", "ru": "Навоийской", "en": "Navoi"},
    {"uz": "Жиззах", "oz": "Jizzax", "ru": "Джизакской", "en": "Jizzakh"},
    {"uz": "Сурхондарё", "oz": "Surxondaryo", "ru": "Сурхандарьинской", "en": "Surkhandarya"},
    {"uz": "Андижон", "oz": "Andijon", "ru": "Андижанской", "en": "Andijan"},
    {"uz": "Сирдарё", "oz": "Sirdaryo", "ru": "Сырдарьинской", "en": "Syrdarya"},
    {"uz": "Тошкент", "oz": "Toshkent", "ru": "Ташкентской", "en": "Tashkent"},
]

# Each story: lang -> (title, paragraphs); "topics" lists what it is about, for tests.
_STORIES: list[dict] = [
    {
        "topics": {"kazakhstan", "border", "water"},
        "uz": (
            "Қозоғистон билан чегара ва сув ресурслари бўйича ҳамкорлик: {r} вилоятида янги лойиҳалар",
            [
                "Президент Шавкат Мирзиёев Қозоғистон Республикаси Бош вазири ўринбосари бошчилигидаги делегацияни қабул қилди.",
                "Учрашувда давлат чегарасини демаркация қилиш ишларини якунлаш, чегара ўтказиш пунктларини модернизация қилиш ҳамда {r} вилоятида чегараолди савдо марказини ташкил этиш масалалари кўриб чиқилди.",
                "Трансчегаравий сув ресурсларидан оқилона фойдаланиш, Сирдарё ҳавзасида сув тақсимоти ва сув омборларини биргаликда бошқариш бўйича келишувлар муҳимлиги таъкидланди.",
                "Томонлар ўзаро савдо ҳажмини яқин йилларда 10\u00a0миллиард долларга етказиш мақсадини тасдиқладилар.",
            ],
        ),
        "oz": (
            "Qozog‘iston bilan chegara va suv resurslari bo‘yicha hamkorlik: {r} viloyatida yangi loyihalar",
            [
                "Prezident Shavkat Mirziyoyev Qozog‘iston Respublikasi Bosh vaziri o‘rinbosari boshchiligidagi delegatsiyani qabul qildi.",
                "Uchrashuvda davlat chegarasini demarkatsiya qilish ishlarini yakunlash, chegara o‘tkazish punktlarini modernizatsiya qilish hamda {r} viloyatida chegaraoldi savdo markazini tashkil etish masalalari ko‘rib chiqildi.",
                "Transchegaraviy suv resurslaridan oqilona foydalanish, Sirdaryo havzasida suv taqsimoti va suv omborlarini birgalikda boshqarish bo‘yicha kelishuvlar muhimligi ta’kidlandi.",
                "Tomonlar o‘zaro savdo hajmini yaqin yillarda 10\u00a0milliard dollarga yetkazish maqsadini tasdiqladilar.",
            ],
        ),
        "ru": (
            "Сотрудничество с Казахстаном по вопросам границы и водных ресурсов: новые проекты в {r} области",
            [
                "Президент Шавкат Мирзиёев принял делегацию Республики Казахстан во главе с заместителем премьер-министра.",
                "На встрече рассмотрены вопросы завершения демаркации государственной границы, модернизации пунктов пропуска и создания приграничного торгового центра в {r} области.",
                "Подчеркнута важность договоренностей о рациональном использовании трансграничных водных ресурсов, распределении воды в бассейне Сырдарьи и совместном управлении водохранилищами.",
                "Стороны подтвердили цель довести объем взаимной торговли до 10\u00a0миллиардов долларов в ближайшие годы.",
            ],
        ),
        "en": (
            "Cooperation with Kazakhstan on the border and water resources: new projects in {r} region",
            [
                "President Shavkat Mirziyoyev received a delegation of the Republic of Kazakhstan led by the Deputy Prime Minister.",
                "The meeting considered completing the demarcation of the state border, modernising border crossing points and setting up a cross-border trade centre in {r} region.",
                "The importance of agreements on the rational use of transboundary water resources, water allocation in the Syr Darya basin and joint management of reservoirs was emphasised.",
                "The sides confirmed the goal of bringing mutual trade to 10\u00a0billion dollars in the coming years.",
            ],
        ),
    },
    {
        "topics": set(),
        "uz": (
            "{r} вилоятида ҳунармандчилик ва сувенир маҳсулотлари ишлаб чиқариш кенгайтирилади",
            [
                "Давлатимиз раҳбари раислигида ҳунармандчилик ва халқ амалий санъатини ривожлантириш масалалари бўйича йиғилиш ўтказилди.",
                "{r} вилоятида ҳунармандлар учун 300 та янги устахона ташкил этилиши, сувенир маҳсулотларини экспорт қилиш учун имтиёзли кредитлар ажратилиши маълум қилинди.",
                "Туристик маршрутлар бўйлаб ҳунармандчилик кўчалари ва сайёҳлик марказлари барпо этилади.",
            ],
        ),
        "oz": (
            "{r} viloyatida hunarmandchilik va suvenir mahsulotlari ishlab chiqarish kengaytiriladi",
            [
                "Davlatimiz rahbari raisligida hunarmandchilik va xalq amaliy san'atini rivojlantirish masalalari bo'yicha yig'ilish o'tkazildi.",
                "{r} viloyatida hunarmandlar uchun 300 ta yangi ustaxona tashkil etilishi, suvenir mahsulotlarini eksport qilish uchun imtiyozli kreditlar ajratilishi ma'lum qilindi.",
                "Turistik marshrutlar bo'ylab hunarmandchilik ko'chalari va sayyohlik markazlari barpo etiladi.",
            ],
        ),
        "ru": (
            "В {r} области расширят производство ремесленной и сувенирной продукции",
            [
                "Под председательством главы государства проведено совещание по вопросам развития ремесленничества и народного прикладного искусства.",
                "В {r} области будут созданы 300 новых мастерских для ремесленников, выделены льготные кредиты на экспорт сувенирной продукции.",
                "Вдоль туристических маршрутов появятся улицы ремесленников и туристические центры.",
            ],
        ),
        "en": (
            "Production of handicrafts and souvenirs to expand in {r} region",
            [
                "The head of state chaired a meeting on developing handicrafts and folk applied arts.",
                "In {r} region, 300 new workshops will be set up for artisans, and preferential loans will be allocated for exporting souvenir products.",
                "Artisan streets and tourist centres will be built along tourist routes.",
            ],
        ),
    },
    {
        "topics": {"water"},
        "uz": (
            "{r} вилоятида сувни тежайдиган технологиялар жорий этилмоқда",
            [
                "Президент Шавкат Мирзиёев {r} вилоятида қишлоқ хўжалигида сувдан самарали фойдаланиш масалаларига бағишланган йиғилиш ўтказди.",
                "Жорий йилда 50 минг гектар майдонда томчилатиб суғориш тизими жорий этилиши, 120 километр ариқ ва каналлар бетонлаштирилиши режалаштирилган.",
                "Сув омборлари ва насос станцияларини модернизация қилиш орқали ҳар йили 300 миллион куб метр сувни тежаш мумкинлиги қайд этилди.",
                "Фермерларга сув ҳисоблагичлари учун субсидиялар берилади.",
            ],
        ),
        "oz": (
            "{r} viloyatida suvni tejaydigan texnologiyalar joriy etilmoqda",
            [
                "Prezident Shavkat Mirziyoyev {r} viloyatida qishloq xoʻjaligida suvdan samarali foydalanish masalalariga bagʻishlangan yigʻilish oʻtkazdi.",
                "Joriy yilda 50 ming gektar maydonda tomchilatib sugʻorish tizimi joriy etilishi, 120 kilometr ariq va kanallar betonlashtirilishi rejalashtirilgan.",
                "Suv omborlari va nasos stansiyalarini modernizatsiya qilish orqali har yili 300 million kub metr suvni tejash mumkinligi qayd etildi.",
                "Fermerlarga suv hisoblagichlari uchun subsidiyalar beriladi.",
            ],
        ),
        "ru": (
            "В {r} области внедряются водосберегающие технологии",
            [
                "Президент Шавкат Мирзиёев провел совещание, посвященное эффективному использованию воды в сельском хозяйстве {r} области.",
                "В текущем году капельное орошение будет внедрено на 50 тысячах гектаров, планируется бетонирование 120 километров арыков и каналов.",
                "Отмечено, что модернизация водохранилищ и насосных станций позволит ежегодно экономить 300 миллионов кубометров воды.",
                "Фермерам будут выделены субсидии на приборы учета воды.",
            ],
        ),
        "en": (
            "Water-saving technologies introduced in {r} region",
            [
                "President Shavkat Mirziyoyev held a meeting on the efficient use of water in agriculture in {r} region.",
                "This year drip irrigation will be introduced on 50 thousand hectares, and 120 kilometres of ditches and canals are to be lined with concrete.",
                "It was noted that modernising reservoirs and pumping stations will save 300 million cubic metres of water every year.",
                "Farmers will receive subsidies for water meters.",
            ],
        ),
    },
    {
        "topics": set(),
        "uz": (
            '"Рақамли Ўзбекистон – 2030": {r} вилоятида IT-парк ва стартаплар',
            [
                "Давлатимиз раҳбарига рақамли иқтисодиётни ривожлантириш бўйича амалга оширилаётган ишлар юзасидан тақдимот ўтказилди.",
                "{r} вилоятида IT-парк филиали очилиб, 2 мингдан ортиқ ёш дастурлаш бўйича ўқитилгани маълум қилинди.",
                "Давлат хизматларини электрон шаклда кўрсатиш кўламини кенгайтириш ва маълумотларга ишлов бериш марказларини қуриш вазифалари белгиланди.",
            ],
        ),
        "oz": (
            '"Raqamli O\'zbekiston – 2030": {r} viloyatida IT-park & startaplar',
            [
                "Davlatimiz rahbariga raqamli iqtisodiyotni rivojlantirish bo'yicha amalga oshirilayotgan ishlar yuzasidan taqdimot o'tkazildi.",
                "{r} viloyatida IT-park filiali ochilib, 2 mingdan ortiq yosh dasturlash bo'yicha o'qitilgani ma'lum qilindi.",
                "Davlat xizmatlarini elektron shaklda ko'rsatish ko'lamini kengaytirish va ma'lumotlarga ishlov berish markazlarini qurish vazifalari belgilandi.",
            ],
        ),
        "ru": (
            'Стратегия "Цифровой Узбекистан – 2030": IT-парк и стартапы в {r} области',
            [
                "Главе государства представлена презентация о ходе работ по развитию цифровой экономики.",
                "Сообщено, что в {r} области открыт филиал IT-парка, более 2 тысяч молодых людей прошли обучение программированию.",
                "Поставлены задачи расширить оказание государственных услуг в электронной форме и построить центры обработки данных.",
            ],
        ),
        "en": (
            '"Digital Uzbekistan – 2030": IT park & start-ups in {r} region',
            [
                "The head of state was given a presentation on progress in developing the digital economy.",
                "A branch of the IT park has opened in {r} region, and more than 2,000 young people have been trained in programming.",
                "Tasks were set to expand electronic public services and to build data processing centres.",
            ],
        ),
    },
    {
        "topics": {"kazakhstan"},
        "uz": (
            "Ўзбек-қозоқ савдо-иқтисодий ҳамкорлиги: {r} вилояти корхоналари учун янги имкониятлар",
            [
                "Президент Шавкат Мирзиёев Қозоғистон Республикаси Президенти Қасим-Жомарт Тоқаев билан телефон орқали мулоқот қилди.",
                "Ўзбек-қозоқ ишбилармонлик кенгашининг навбатдаги йиғилиши натижалари муҳокама қилинди. {r} вилояти корхоналари Қозоғистонга тўқимачилик ва озиқ-овқат маҳсулотлари экспортини кўпайтирмоқда.",
                "Икки давлат раҳбарлари мамлакатларимиз суверенитети ва ҳудудий яхлитлигини ўзаро ҳурмат қилиш асосидаги стратегик шерикликни мустаҳкамлашга келишиб олдилар.",
                "Транспорт-логистика йўлакларини ривожлантириш ва юк ташиш тарифларини унификация қилиш масалалари ҳам кўриб чиқилди.",
            ],
        ),
        "oz": (
            "O‘zbek-qozoq savdo-iqtisodiy hamkorligi: {r} viloyati korxonalari uchun yangi imkoniyatlar",
            [
                "Prezident Shavkat Mirziyoyev Qozogʻiston Respublikasi Prezidenti Qasim-Jomart Toqayev bilan telefon orqali muloqot qildi.",
                "O‘zbek-qozoq ishbilarmonlik kengashining navbatdagi yig‘ilishi natijalari muhokama qilindi. {r} viloyati korxonalari Qozog’istonga to‘qimachilik va oziq-ovqat mahsulotlari eksportini ko‘paytirmoqda.",
                "Ikki davlat rahbarlari mamlakatlarimiz suvereniteti va hududiy yaxlitligini o‘zaro hurmat qilish asosidagi strategik sheriklikni mustahkamlashga kelishib oldilar.",
                "Transport-logistika yo‘laklarini rivojlantirish va yuk tashish tariflarini unifikatsiya qilish masalalari ham ko‘rib chiqildi.",
            ],
        ),
        "ru": (
            "Узбекско-казахское торгово-экономическое сотрудничество: новые возможности для предприятий {r} области",
            [
                "Президент Шавкат Мирзиёев провел телефонный разговор с Президентом Республики Казахстан Касым-Жомартом Токаевым.",
                "Обсуждены итоги очередного заседания Узбекско-казахского делового совета. Предприятия {r} области наращивают экспорт текстильной и продовольственной продукции в Казахстан.",
                "Лидеры двух государств договорились укреплять стратегическое партнерство на основе взаимного уважения суверенитета и территориальной целостности.",
                "Рассмотрены также вопросы развития транспортно-логистических коридоров и унификации тарифов на грузоперевозки.",
            ],
        ),
        "en": (
            "Uzbek-Kazakh trade and economic cooperation: new opportunities for companies of {r} region",
            [
                "President Shavkat Mirziyoyev held a telephone conversation with President of the Republic of Kazakhstan Kassym-Jomart Tokayev.",
                "The results of the latest meeting of the Uzbek-Kazakh Business Council were discussed. Companies of {r} region are increasing exports of textiles and food products to Kazakhstan, and the Kazakh side welcomed new joint ventures.",
                "The leaders agreed to strengthen the strategic partnership based on mutual respect for sovereignty and territorial integrity.",
                "Issues of developing transport and logistics corridors and unifying freight tariffs were also considered.",
            ],
        ),
    },
    {
        "topics": set(),
        "uz": (
            "{r} вилоятида бирламчи тиббий ёрдам сифати оширилмоқда",
            [
                "Давлатимиз раҳбари соғлиқни сақлаш тизимини ислоҳ қилиш бўйича таклифлар тақдимоти билан танишди.",
                "{r} вилоятида 40 та оилавий поликлиника таъмирланиб, замонавий тиббий асбоб-ускуналар билан жиҳозланади.",
                "Маҳаллий дори воситалари ишлаб чиқаришни кенгайтириш ва чет элда даволанаётган фуқароларга кўмаклашиш тизимини такомиллаштириш вазифаси қўйилди.",
            ],
        ),
        "oz": (
            "{r} viloyatida birlamchi tibbiy yordam sifati oshirilmoqda",
            [
                "Davlatimiz rahbari sogʻliqni saqlash tizimini isloh qilish boʻyicha takliflar taqdimoti bilan tanishdi.",
                "{r} viloyatida 40 ta oilaviy poliklinika ta’mirlanib, zamonaviy tibbiy asbob-uskunalar bilan jihozlanadi.",
                "Mahalliy dori vositalari ishlab chiqarishni kengaytirish va chet elda davolanayotgan fuqarolarga koʻmaklashish tizimini takomillashtirish vazifasi qoʻyildi.",
            ],
        ),
        "ru": (
            "В {r} области повышается качество первичной медицинской помощи",
            [
                "Глава государства ознакомился с презентацией предложений по реформированию системы здравоохранения.",
                "В {r} области будут отремонтированы 40 семейных поликлиник; руководство области отвечает за их оснащение современным медицинским оборудованием.",
                "Поставлена задача расширить производство отечественных лекарственных средств и усовершенствовать систему помощи гражданам, проходящим лечение за границей.",
            ],
        ),
        "en": (
            "Quality of primary health care improves in {r} region",
            [
                "The head of state reviewed a presentation of proposals to reform the health care system.",
                "In {r} region, 40 family polyclinics will be renovated and equipped with modern medical devices.",
                "The task was set to expand domestic production of medicines and to improve support for citizens receiving treatment abroad.",
            ],
        ),
    },
    {
        "topics": {"border"},
        "uz": (
            "{r} вилоятида чегара ўтказиш пунктлари модернизация қилинади",
            [
                "Президент Шавкат Мирзиёев қўшни давлатлар билан чегараолди ҳамкорлигини ривожлантириш масалалари бўйича йиғилиш ўтказди.",
                "{r} вилоятидаги чегара ўтказиш пунктларида навбатларни қисқартириш учун электрон навбат тизими жорий этилади.",
                "Давлат чегарасини делимитация қилиш бўйича ҳукуматлараро комиссия иши жадаллаштирилади.",
            ],
        ),
        "oz": (
            "{r} viloyatida chegara o'tkazish punktlari modernizatsiya qilinadi",
            [
                "Prezident Shavkat Mirziyoyev qo'shni davlatlar bilan chegaraoldi hamkorligini rivojlantirish masalalari bo'yicha yig'ilish o'tkazdi.",
                "{r} viloyatidagi chegara o'tkazish punktlarida navbatlarni qisqartirish uchun elektron navbat tizimi joriy etiladi.",
                "Davlat chegarasini delimitatsiya qilish bo'yicha hukumatlararo komissiya ishi jadallashtiriladi.",
            ],
        ),
        "ru": (
            "В {r} области модернизируют пункты пропуска через государственную границу",
            [
                "Президент Шавкат Мирзиёев провел совещание по развитию приграничного сотрудничества с соседними государствами.",
                "На пунктах пропуска {r} области внедрят электронную очередь, чтобы сократить время ожидания на границе.",
                "Работа межправительственной комиссии по делимитации государственной границы будет ускорена.",
            ],
        ),
        "en": (
            "Border crossing points to be modernised in {r} region",
            [
                "President Shavkat Mirziyoyev held a meeting on developing cross-border cooperation with neighbouring states.",
                "An electronic queue will be introduced at the border crossing points of {r} region to cut waiting times.",
                "The work of the intergovernmental commission on the delimitation of the state border will be accelerated.",
            ],
        ),
    },
    {
        "topics": set(),
        "uz": (
            "Президент {r} вилояти ёш тадбиркорлари билан мулоқот қилди",
            [
                "Давлатимиз раҳбари {r} вилоятидаги ёш тадбиркорлар ва стартап лойиҳалари муаллифлари билан учрашди.",
                "Ёшларимизнинг чегара билмас ғайрати ва ташаббускорлиги мамлакатимиз тараққиётининг муҳим омили экани таъкидланди.",
                "Ёшлар лойиҳаларини молиялаштириш учун 500\u00a0миллиард сўм миқдорида маблағ ажратилади.",
            ],
        ),
        "oz": (
            "Prezident {r} viloyati yosh tadbirkorlari bilan muloqot qildi",
            [
                "Davlatimiz rahbari {r} viloyatidagi yosh tadbirkorlar va startap loyihalari mualliflari bilan uchrashdi.",
                "Yoshlarimizning chegara bilmas g‘ayrati va tashabbuskorligi mamlakatimiz taraqqiyotining muhim omili ekani ta’kidlandi.",
                "Yoshlar loyihalarini moliyalashtirish uchun 500\u00a0milliard so‘m miqdorida mablag‘ ajratiladi.",
            ],
        ),
        "ru": (
            "Президент встретился с молодыми предпринимателями {r} области",
            [
                "Глава государства встретился с молодыми предпринимателями и авторами стартап-проектов {r} области.",
                "Подчеркнуто, что энергия и инициативность молодежи – важный фактор развития страны.",
                "На финансирование молодежных проектов будет выделено 500\u00a0миллиардов сумов.",
            ],
        ),
        "en": (
            "President meets <b>young entrepreneurs</b> of {r} region",
            [
                "The head of state met young entrepreneurs and authors of start-up projects from {r} region.",
                "It was stressed that the boundless energy and initiative of young people are an important factor in the country's development.",
                "500\u00a0billion soums will be allocated to finance youth projects.",
            ],
        ),
    },
    {
        "topics": {"water"},
        "uz": (
            "Оролбўйида экологик вазиятни яхшилаш: {r} вилояти ўрмончилари ҳисса қўшмоқда",
            [
                "Президент Шавкат Мирзиёев Орол денгизи ҳавзасида экологик вазиятни юмшатиш бўйича чора-тадбирлар ижроси билан танишди.",
                "Орол денгизининг қуриган тубида 2 миллион гектардан ортиқ майдонда саксовул ва бошқа чўл ўсимликлари экилгани маълум қилинди. {r} вилояти ўрмончилари ҳам бу ишларда фаол қатнашмоқда.",
                "Амударё сувидан оқилона фойдаланиш ва аҳолини тоза ичимлик суви билан таъминлаш бўйича лойиҳалар давом эттирилади.",
            ],
        ),
        "oz": (
            "Orolbo‘yida ekologik vaziyatni yaxshilash: {r} viloyati o‘rmonchilari hissa qo‘shmoqda",
            [
                "Prezident Shavkat Mirziyoyev Orol dengizi havzasida ekologik vaziyatni yumshatish bo‘yicha chora-tadbirlar ijrosi bilan tanishdi.",
                "Orol dengizining qurigan tubida 2 million gektardan ortiq maydonda saksovul va boshqa cho‘l o‘simliklari ekilgani ma’lum qilindi. {r} viloyati o‘rmonchilari ham bu ishlarda faol qatnashmoqda.",
                "Amudaryo suvidan oqilona foydalanish va aholini toza ichimlik suvi bilan ta’minlash bo‘yicha loyihalar davom ettiriladi.",
            ],
        ),
        "ru": (
            "Экологическая ситуация в Приаралье: лесоводы {r} области вносят свой вклад",
            [
                "Президент Шавкат Мирзиёев ознакомился с ходом мер по смягчению экологической ситуации в бассейне Аральского моря.",
                "На осушенном дне Аральского моря саксаул и другие пустынные растения высажены на площади более 2 миллионов гектаров. Активное участие в этой работе принимают лесоводы {r} области.",
                "Будут продолжены проекты по рациональному использованию воды Амударьи и обеспечению населения чистой питьевой водой.",
            ],
        ),
        "en": (
            "Environment of the Aral Sea region: foresters of {r} region contribute",
            [
                "President Shavkat Mirziyoyev reviewed the implementation of measures to mitigate the environmental situation in the Aral Sea basin.",
                "Saxaul and other desert plants have been planted on more than 2 million hectares of the dried bed of the Aral Sea. Foresters of {r} region are actively involved.",
                "Projects on the rational use of Amu Darya water and on supplying the population with clean drinking water will continue.",
            ],
        ),
    },
]

# Anchors from SITE.md: 9164 = 01.05.2026 and 9207 = 14.05.2026, i.e. 43 ids in 13 days. The id is
# shared by every section, so the news list shows gaps; steps of 1–3 give that.
_ANCHOR_ID, _IDS, _DAYS = 9164, 43, 13
_ID_STEPS = (1, 2, 1, 1, 3, 1, 2, 1)
_DATE_AFTER_TITLE = (2, 5, 8)  # positions in each run of 10: exactly 3 in 10, spread out


def sample_topics(release: Release) -> set[str]:
    """The topics a sample release was written about, from its English title (empty for a
    release that is not from `sample_releases`, or whose English title was edited)."""
    english = release.versions.get("en")
    for story in _STORIES:
        pattern = re.escape(story["en"][0]).replace(re.escape("{r}"), ".+")
        if english is not None and re.fullmatch(pattern, english.title):
            return set(story["topics"])
    return set()


def _day_index(release_id: int) -> int:
    # Same phase as the real site, so the default ids land on the anchor dates exactly.
    return (release_id - _ANCHOR_ID) * _DAYS // _IDS


def sample_releases(
    count: int = 24, first_id: int = 9180, first_date: dt.date = dt.date(2026, 5, 5)
) -> list[Release]:
    """Deterministic synthetic releases in all four languages, oldest first."""
    releases = []
    rid = first_id
    for i in range(count):
        story = _STORIES[i % len(_STORIES)]
        region = _REGIONS[(i * 5) % len(_REGIONS)]
        day = first_date + dt.timedelta(days=_day_index(rid) - _day_index(first_id))
        # Every fourth release has a small gallery, the rest the single cover image.
        images = [image_path(rid, n) for n in range(3 if i % 4 == 3 else 1)]
        versions = {
            lang: Version(
                title=story[lang][0].format(r=region[lang]),
                paragraphs=[p.format(r=region[lang]) for p in story[lang][1]],
                images=list(images),
            )
            for lang in LANGS
        }
        releases.append(Release(rid, day, versions, date_after_title=(i % 10) in _DATE_AFTER_TITLE))
        rid += _ID_STEPS[i % len(_ID_STEPS)]
    return releases


# The seed's closing line: the source label alone on its line (" Манба"), maybe with a colon.
_SOURCE_LINE = re.compile(r"\n[ \t]*Манба[ \t]*:?[ \t]*\Z")
_URL_BLOCK = re.compile(r"\A\s*https?://\S+\s*\Z")

_SEED_TRANSLATIONS = {
    "oz": (
        "O‘zbekiston va Qozog‘iston o‘rtasidagi ittifoqchilik munosabatlari mustahkamlanmoqda",
        [
            "O‘zbekiston va Qozog‘iston yetakchilari ommaviy axborot vositalari vakillari uchun brifing o‘tkazdilar.",
            "O‘zbekiston Prezidenti Qozog‘iston Prezidenti va qardosh xalqini yaqinda nishonlangan Mustaqillik bayrami bilan tabrikladi.",
            "Ittifoqchilik munosabatlari to‘g‘risidagi shartnomaning imzolangani tashrifning eng muhim natijasi bo‘ldi. Bundan tashqari, davlat rahbarlari darajasidagi Davlatlararo kengash tuzilmoqda.",
            "O‘zbekiston-Qozog‘iston davlat chegarasini demarkatsiya qilish to‘g‘risida shartnoma imzolandi. – Bu chinakam tarixiy voqea, – dedi Shavkat Mirziyoyev.",
            "Keyingi yillarda o‘zaro savdo hajmi ikki barobar oshgani va besh milliard dollarga yaqinlashgani qayd etildi.",
            "Davlat rahbarlari transchegaraviy suv resurslaridan oqilona foydalanish borasidagi hamkorlikni davom ettirishga tayyor ekanliklarini tasdiqladilar.",
        ],
    ),
    "ru": (
        "Союзнические отношения между Узбекистаном и Казахстаном укрепляются",
        [
            "Лидеры Узбекистана и Казахстана провели брифинг для представителей средств массовой информации.",
            "Президент Узбекистана поздравил Президента Казахстана и братский народ с недавно отмечавшимся Днем Независимости.",
            "Главным итогом визита стало подписание Договора о союзнических отношениях. Кроме того, создается Межгосударственный совет на уровне глав государств.",
            "Подписан Договор о демаркации узбекско-казахстанской государственной границы, завершивший правовое оформление границ между братскими странами. – Это поистине историческое событие, – сказал Шавкат Мирзиёев.",
            "Отмечено, что объем взаимной торговли за последние годы вырос вдвое и приближается к пяти миллиардам долларов.",
            "Главы государств подтвердили готовность к сотрудничеству в рациональном использовании трансграничных водных ресурсов.",
        ],
    ),
    "en": (
        "Allied relations between Uzbekistan and Kazakhstan are strengthening",
        [
            "The leaders of Uzbekistan and Kazakhstan held a briefing for media representatives.",
            "The President of Uzbekistan congratulated the President of Kazakhstan and the fraternal people on the recently celebrated Independence Day.",
            "The main outcome of the visit was the signing of the Treaty on Allied Relations. An Interstate Council at the level of heads of state is also being established.",
            "A Treaty on the demarcation of the Uzbek-Kazakh state border was signed, completing the legal formalisation of the borders between the two countries. “This is a truly historic event,” Shavkat Mirziyoyev said.",
            "Mutual trade has doubled in recent years and is approaching five billion dollars.",
            "The heads of state confirmed their readiness to cooperate in the rational use of transboundary water resources.",
        ],
    ),
}


def seed_release(path: str | Path | None = None) -> Release:
    """Release 5782 (22.12.2022): the real Uzbek text of the seed file plus short translations.

    The uz paragraphs are the file's blocks exactly as extracted (hard wraps, doubled spaces), so
    the crawler's normalizer, not the mirror, is what cleans them.
    """
    text = Path(path or SEED_PATH).read_text(encoding="utf-8")
    blocks = [b for b in re.split(r"\n[ \t]*\n", text) if b.strip()]
    headline, body = blocks[0], blocks[1:]
    # The address and the "Манба" line cite the page itself; the page renders its own source line.
    body = [b for b in body if not _URL_BLOCK.match(b)]
    if body:
        body[-1] = _SOURCE_LINE.sub("", body[-1])
    body = [b for b in body if b.strip() and b.strip().rstrip(":") != "Манба"]
    title = " ".join(line.strip() for line in headline.splitlines() if line.strip())
    versions = {"uz": Version(title, body, [image_path(5782)])}
    for lang, (t, paragraphs) in _SEED_TRANSLATIONS.items():
        versions[lang] = Version(t, list(paragraphs), [image_path(5782)])
    return Release(5782, dt.date(2022, 12, 22), versions)


def default_releases() -> list[Release]:
    """What `Mirror()` serves: 24 sample releases plus the seed release."""
    return sample_releases() + [seed_release()]


# --------------------------------------------------------------------------------------------
# Rendering (pure)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _list_date(release: Release) -> str:
    return release.date.strftime("%d-%m-%Y")


def _list_time(release: Release) -> str:
    # Lists show a time of day; the item page does not (SITE.md). Deterministic from the id.
    return f"{9 + release.id * 7 % 11:02d}:{release.id * 13 % 60:02d}"


def _item_url(lang: str, release_id: int) -> str:
    return f"/{lang}/lists/view/{release_id}"


def _page_head(lang: str, title: str, extra_meta: str = "") -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{_CHROME[lang]["html_lang"]}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n{extra_meta}"
        '<link rel="stylesheet" href="/assets/css/main.css">\n</head>\n'
    )


def _header(lang: str, switch_paths: dict[str, str] | None = None) -> str:
    c = _CHROME[lang]
    switch_paths = switch_paths or {other: f"/{other}" for other in LANGS}
    active = ' class="active"'
    switch = "".join(
        f'<li{active if other == lang else ""}><a href="{switch_paths[other]}">{_LANG_LABELS[other]}</a></li>'
        for other in LANGS
    )
    return (
        '<body>\n<div class="wrapper">\n<header class="header">\n<div class="container">\n'
        f'<a class="logo" href="/{lang}"><img src="/assets/img/gerb.png" alt="">'
        f'<span class="logo_text">{_esc(SITE_NAMES[lang])}</span></a>\n'
        '<div class="header_tools">\n'
        f'<form class="search_form" action="/{lang}/search" method="get">'
        f'<input type="text" name="q" placeholder="{_esc(c["search"])}">'
        f'<button type="submit">{_esc(c["search"])}</button></form>\n'
        f'<div class="font_size"><span>{_esc(c["font"])}</span> '
        '<a href="#" class="font_minus">A-</a> <a href="#" class="font_plus">A+</a></div>\n'
        f'<ul class="lang_switch">{switch}</ul>\n</div>\n'
        '<nav class="menu"><ul>'
        f'<li><a href="/{lang}/lists/news?menu_id=12">{_esc(c["news"])}</a></li>'
        f'<li><a href="/{lang}/lists/meetings">{_esc(c["meetings"])}</a></li>'
        f'<li><a href="/{lang}/lists/speeches">{_esc(c["speeches"])}</a></li>'
        "</ul></nav>\n</div>\n</header>\n"
    )


def _footer(lang: str) -> str:
    c = _CHROME[lang]
    socials = "".join(
        f'<a class="social_{name.lower()}" href="{url}" target="_blank">{name}</a>'
        for name, url in (
            ("Telegram", "https://t.me/presidentuz"),
            ("Facebook", "https://www.facebook.com/president.uz"),
            ("Instagram", "https://www.instagram.com/president.uz"),
            ("YouTube", "https://www.youtube.com/@presidentuz"),
        )
    )
    # The copyright is a <p> after the body on purpose: a "run of <p>" parser must stop before it.
    return (
        '<footer class="footer">\n<div class="container">\n'
        f'<div class="footer_social"><h4>{_esc(c["social"])}</h4>{socials}</div>\n'
        f'<p class="copyright">© 2016–2026 {_esc(SITE_NAMES[lang])}. {_esc(c["rights"])}</p>\n'
        "</div>\n</footer>\n</div>\n</body>\n</html>\n"
    )


def _page_link(base_path: str, page: int) -> str:
    return f"{base_path}{'&' if '?' in base_path else '?'}page={page}"


def _pagination(base_path: str, page: int, total: int, layout: str) -> str:
    if total <= 1:
        return ""
    if layout == "drifted":
        links = []
        if page > 1:
            links.append(f'<a class="pager__prev" href="{_esc(_page_link(base_path, page - 1))}">←</a>')
        if page < total:
            links.append(f'<a class="pager__next" href="{_esc(_page_link(base_path, page + 1))}">→</a>')
        return f'<div class="pager">{"".join(links)}</div>\n'
    items = []
    if page > 1:
        items.append(f'<li class="prev"><a href="{_esc(_page_link(base_path, page - 1))}">&laquo;</a></li>')
    for n in range(max(1, page - 2), min(total, page + 2) + 1):
        active = ' class="active"' if n == page else ""
        items.append(f'<li{active}><a href="{_esc(_page_link(base_path, n))}">{n}</a></li>')
    if page < total:
        items.append(f'<li class="next"><a href="{_esc(_page_link(base_path, page + 1))}">&raquo;</a></li>')
        items.append(f'<li class="last"><a href="{_esc(_page_link(base_path, total))}">&raquo;&raquo;</a></li>')
    return f'<ul class="pagination">{"".join(items)}</ul>\n'


def _list_item(release: Release, lang: str, layout: str) -> str:
    url = _item_url(lang, release.id)
    title = _esc(release.versions[lang].title)
    if layout == "drifted":
        return (
            f'<article class="news-card"><a class="news-card__pic" href="{url}">'
            f'<img src="{thumb_path(release.id)}" alt=""></a>'
            f'<h3 class="news-card__title"><a href="{url}">{title}</a></h3>'
            f'<span class="meta">{_list_date(release)}</span></article>\n'
        )
    return (
        f'<div class="events_box"><a class="events_img" href="{url}">'
        f'<img src="{thumb_path(release.id)}" alt=""></a>'
        f'<a class="events_title" href="{url}">{title}</a>'
        f'<div class="date_text">{_list_date(release)} | {_list_time(release)}</div></div>\n'
    )


def render_list_page(
    releases: Iterable[Release],
    lang: str,
    page: int,
    *,
    per_page: int = 12,
    layout: str = "default",
    base_path: str = "/{lang}/lists/news",
    pager: str = "full",
) -> str:
    """A news list page: the releases that have `lang`, newest id first, `per_page` per page.

    A page past the end is a normal page with no items (the site's behaviour there is unknown).
    """
    _check(lang, layout)
    base_path = base_path.format(lang=lang)
    listed = sorted((r for r in releases if lang in r.versions), key=lambda r: r.id, reverse=True)
    total = max(1, math.ceil(len(listed) / per_page))
    page = max(1, page)
    shown = [] if layout == "empty" else listed[(page - 1) * per_page : page * per_page]
    c = _CHROME[lang]
    if layout == "drifted":
        items = "".join(_list_item(r, lang, layout) for r in shown)
        content = f'<div class="news-feed">\n<h2 class="news-feed__title">{_esc(c["news"])}</h2>\n{items}</div>\n'
    else:
        items = "".join(_list_item(r, lang, layout) for r in shown)
        content = (
            f'<div class="news_list">\n<h1 class="page_title">{_esc(c["news"])}</h1>\n'
            f'<div class="events_list">\n{items}</div>\n</div>\n'
        )
    links = "" if layout == "empty" or pager == "none" else _pagination(base_path, page, total, layout)
    return (
        _page_head(lang, f"{c['news']} - {SITE_NAMES[lang]}")
        + _header(lang, {other: f"/{other}/lists/news" for other in LANGS})
        + f'<div class="container page_content">\n{content}{links}</div>\n'
        + _footer(lang)
    )


def _check(lang: str, layout: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}")
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")


def _paragraphs(paragraphs: Sequence[str]) -> str:
    # Escaped only: inner newlines and doubled spaces stay, as on a page the seed was taken from.
    return "".join(f"<p>{html.escape(p, quote=False)}</p>\n" for p in paragraphs)


def _source_line(lang: str, release_id: int) -> str:
    url = f"https://president.uz{_item_url(lang, release_id)}"
    return f'<p>{SOURCE_LABELS[lang]}: <a href="{url}">{url}</a></p>\n'


def _sidebar_items(others: Sequence[Release], lang: str, layout: str) -> str:
    rows = []
    for other in others:
        if lang not in other.versions:
            continue
        url, title = _item_url(lang, other.id), _esc(other.versions[lang].title)
        if layout == "drifted":
            rows.append(f'<div class="aside-item"><a href="{url}">{title}</a></div>')
        else:
            # DD-MM-YYYY like the lists, so the item's own DD.MM.YYYY line stays the only one.
            rows.append(f'<li><a href="{url}">{title}</a><div class="date_text">{_list_date(other)}</div></li>')
    return "\n".join(rows)


def render_item_page(
    release: Release,
    lang: str,
    *,
    layout: str = "default",
    others: Sequence[Release] = (),
) -> str:
    """One language version of a release, with the site chrome and a sidebar linking `others`.

    Raises KeyError when the release has no version in `lang` (the server answers 404 then).
    """
    _check(lang, layout)
    version = release.versions[lang]
    c = _CHROME[lang]
    images = version.images or [image_path(release.id)]
    meta = (
        f'<meta property="og:title" content="{_esc(version.title)}">\n'
        f'<meta property="og:image" content="https://president.uz{_esc(images[0])}">\n'
        f'<meta property="og:url" content="https://president.uz{_item_url(lang, release.id)}">\n'
    )
    head = _page_head(lang, f"{version.title} - {SITE_NAMES[lang]}", meta)
    header = _header(lang, {other: _item_url(other, release.id) for other in LANGS})
    date_line = release.date.strftime("%d.%m.%Y")
    crumbs = (
        f'<a href="/{lang}">{_esc(c["home"])}</a> <span>/</span> '
        f'<a href="/{lang}/lists/news">{_esc(c["news"])}</a>'
    )
    if layout == "empty":
        body = f'<div class="container page_content">\n<div class="breadcrumbs">{crumbs}</div>\n</div>\n'
    elif layout == "drifted":
        # No h1: the headline is only in <title> and og:title, so a parser must use those.
        gallery = "".join(f'<div class="news-cover"><img src="{_esc(p)}" alt=""></div>\n' for p in images)
        body = (
            '<div class="page-grid">\n<div class="page-grid__main">\n'
            f'<div class="crumbs">{crumbs}</div>\n'
            f'<div class="news-meta"><span class="news-meta__date">{date_line}</span></div>\n'
            f'{gallery}<div class="news-text">\n{_paragraphs(version.paragraphs)}'
            f"{_source_line(lang, release.id)}</div>\n</div>\n"
            f'<div class="page-grid__aside">\n{_sidebar_items(others, lang, layout)}\n</div>\n</div>\n'
        )
    else:
        date_div = f'<div class="date">{date_line}</div>\n'
        h1 = f"<h1>{_esc(version.title)}</h1>\n"
        heading = h1 + date_div if release.date_after_title else date_div + h1
        cover = f'<div class="news_image"><img src="{_esc(images[0])}" alt=""></div>\n'
        gallery = ""
        if len(images) > 1:
            pics = "".join(f'<a href="{_esc(p)}"><img src="{_esc(p)}" alt=""></a>' for p in images[1:])
            gallery = f'<div class="gallery">{pics}</div>\n'
        share_url = quote(f"https://president.uz{_item_url(lang, release.id)}", safe="")
        body = (
            '<div class="container page_content">\n<div class="row">\n<div class="col-md-8 col-sm-12">\n'
            f'<div class="breadcrumbs">{crumbs}</div>\n{heading}{cover}'
            f"{_paragraphs(version.paragraphs)}{gallery}{_source_line(lang, release.id)}"
            f'<div class="share_block"><span>{_esc(c["share"])}</span> '
            f'<a href="https://t.me/share/url?url={share_url}">Telegram</a> '
            f'<a href="https://www.facebook.com/sharer/sharer.php?u={share_url}">Facebook</a></div>\n'
            '</div>\n<div class="col-md-4 col-sm-12 sidebar">\n'
            f'<h3 class="sidebar_title">{_esc(c["latest"])}</h3>\n'
            f'<ul class="sidebar_news">\n{_sidebar_items(others, lang, layout)}\n</ul>\n'
            "</div>\n</div>\n</div>\n"
        )
    return head + header + body + _footer(lang)


def render_not_found(lang: str = "uz") -> str:
    """The 404 page (also what a missing translation answers)."""
    lang = lang if lang in LANGS else "uz"
    c = _CHROME[lang]
    return (
        _page_head(lang, f"{c['not_found']} - {SITE_NAMES[lang]}")
        + _header(lang)
        + f'<div class="container page_content">\n<div class="error_page"><h2>404</h2>'
        f"<div>{_esc(c['not_found'])}</div></div>\n</div>\n"
        + _footer(lang)
    )


# --------------------------------------------------------------------------------------------
# HTTP plumbing


@dataclass
class Response:
    """A response not yet sent. Faults may build one, or transform the normal one."""

    status: int
    headers: dict[str, str]
    body: bytes = b""


class LoggedRequest(NamedTuple):
    method: str
    path: str  # with the query string
    status: int  # 0 when no response was sent (reset, hang)
    headers: dict[str, str]  # the request's headers


class RequestLog:
    """Thread-safe record of every request the mirror answered (or refused to)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def snapshot(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def count(self, path_prefix: str = "") -> int:
        return sum(1 for e in self.snapshot() if e.path.startswith(path_prefix))

    def paths(self, path_prefix: str = "") -> list[str]:
        return [e.path for e in self.snapshot() if e.path.startswith(path_prefix)]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    @property
    def last(self) -> LoggedRequest | None:
        with self._lock:
            return self._entries[-1] if self._entries else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self.snapshot())

    def __getitem__(self, index: int) -> LoggedRequest:
        with self._lock:
            return self._entries[index]


# --------------------------------------------------------------------------------------------
# Faults
#
# A fault is one small class with `apply(handler)`. The handler offers: normal_response(),
# send(response), start_response(status, headers), write(bytes), reset(), drop(), wait(seconds).
# A new fault needs nothing else.

MAX_HANG = 30.0


class Fault:
    """One way to misbehave for one request."""

    def apply(self, handler: "_Handler") -> None:
        raise NotImplementedError


@dataclass
class Status(Fault):
    """Answer with this status instead of the page (429 with/without Retry-After, 5xx, 403...)."""

    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    def apply(self, handler: "_Handler") -> None:
        body = self.body or f"<!DOCTYPE html><html><body><h1>{self.code}</h1></body></html>"
        headers = {"Content-Type": "text/html; charset=utf-8", **self.headers}
        handler.send(Response(self.code, headers, body.encode("utf-8")))


@dataclass
class Latency(Fault):
    """Wait, then serve normally (the wait ends early when the mirror stops or goes down)."""

    seconds: float

    def apply(self, handler: "_Handler") -> None:
        if handler.wait(self.seconds):
            handler.drop()
        else:
            handler.send(handler.normal_response())


@dataclass
class Reset(Fault):
    """Close the connection with a TCP reset, sending nothing."""

    def apply(self, handler: "_Handler") -> None:
        handler.reset()


@dataclass
class Hang(Fault):
    """Accept the request and say nothing for `seconds` (≤ 30), then close. Meant to outlast a
    client's read timeout; aborted when the mirror stops or goes down."""

    seconds: float = MAX_HANG

    def apply(self, handler: "_Handler") -> None:
        handler.record(0)
        handler.wait(min(self.seconds, MAX_HANG))
        handler.drop()


@dataclass
class Truncated(Fault):
    """Send the normal headers (full Content-Length) but only `fraction` of the body, then close."""

    fraction: float = 0.5

    def apply(self, handler: "_Handler") -> None:
        response = handler.normal_response()
        headers = {**response.headers, "Content-Length": str(len(response.body))}
        handler.start_response(response.status, headers)
        handler.write(response.body[: int(len(response.body) * self.fraction)])
        handler.drop()


@dataclass
class Charset(Fault):
    """Serve the normal page in another encoding.

    mode "header": correct `charset=` in Content-Type (and in the meta tag);
    "wrong-header": Content-Type says utf-8, the bytes are `encoding` (the meta tag tells the truth);
    "meta": Content-Type without charset, `<meta http-equiv=Content-Type ... charset=...>`;
    "none": no charset anywhere, detection only.
    Characters the encoding lacks (Uzbek қ ғ ҳ in windows-1251) become numeric references, as a
    legacy CMS would write them.
    """

    mode: str = "header"
    encoding: str = "windows-1251"

    MODES = ("header", "wrong-header", "meta", "none")

    def __post_init__(self) -> None:
        if self.mode not in self.MODES:
            raise ValueError(f"unknown charset mode {self.mode!r}; expected one of {self.MODES}")

    def apply(self, handler: "_Handler") -> None:
        response = handler.normal_response()
        if not response.headers.get("Content-Type", "").startswith("text/html") or not response.body:
            handler.send(response)
            return
        text = response.body.decode("utf-8")
        meta = {
            "header": f'<meta charset="{self.encoding}">',
            "wrong-header": f'<meta charset="{self.encoding}">',
            "meta": f'<meta http-equiv="Content-Type" content="text/html; charset={self.encoding}">',
            "none": "",
        }[self.mode]
        text = text.replace('<meta charset="utf-8">', meta, 1)
        content_type = {
            "header": f"text/html; charset={self.encoding}",
            "wrong-header": "text/html; charset=utf-8",
            "meta": "text/html",
            "none": "text/html",
        }[self.mode]
        body = text.encode(self.encoding, "xmlcharrefreplace")
        headers = {**response.headers, "Content-Type": content_type, "ETag": _etag(body)}
        handler.send(Response(response.status, headers, body))


@dataclass
class Redirect(Fault):
    """Redirect elsewhere, e.g. to another host the crawler must refuse to follow."""

    location: str
    status: int = 302

    def apply(self, handler: "_Handler") -> None:
        body = f'<a href="{_esc(self.location)}">moved</a>'.encode()
        handler.send(Response(self.status, {"Location": self.location, "Content-Type": "text/html"}, body))


@dataclass
class Oversized(Fault):
    """A page of `n_bytes`. With declared=False there is no Content-Length (read until close),
    so only a client that counts what it reads notices."""

    n_bytes: int
    declared: bool = True

    def apply(self, handler: "_Handler") -> None:
        headers = {"Content-Type": "text/html; charset=utf-8"}
        if self.declared:
            headers["Content-Length"] = str(self.n_bytes)
        else:
            headers["Connection"] = "close"
        handler.start_response(200, headers)
        prefix = b"<!DOCTYPE html><html><body><!--"
        chunk = b"x" * 65536
        sent = 0
        try:
            handler.write(prefix[: self.n_bytes])
            sent = min(len(prefix), self.n_bytes)
            while sent < self.n_bytes:
                part = chunk[: self.n_bytes - sent]
                handler.write(part)
                sent += len(part)
        except OSError:
            pass  # the client gave up reading, which is the point
        handler.drop()


@dataclass
class FaultRule:
    """`match` is a path prefix (compared with the path and query) or a predicate on it.
    `times=None` applies forever; otherwise the rule is spent after that many requests."""

    match: str | Callable[[str], bool]
    fault: Fault
    times: int | None = None
    hits: int = 0

    def matches(self, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return self.match(path) if callable(self.match) else path.startswith(self.match)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:20] + '"'


def _http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def _not_modified(request_headers, etag: str, modified: int) -> bool:
    # If-None-Match wins when present (RFC 9110 13.2.2).
    inm = request_headers.get("If-None-Match")
    if inm is not None:
        tags = [t.strip() for t in inm.split(",")]
        return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
    ims = request_headers.get("If-Modified-Since")
    if ims:
        try:
            since = email.utils.parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.timezone.utc)
        return modified <= since.timestamp()
    return False


_LIST_PATH = re.compile(r"^/(uz|oz|ru|en)/lists/news/?$")
_ITEM_PATH = re.compile(r"^/(uz|oz|ru|en)/lists/view/(\d+)/?$")
# A minimal JPEG (SOI, a JFIF APP0, EOI): enough for a content-type check, tiny to serve.
_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without this, keep-alive requests stall ~40 ms (Nagle + delayed ACK).
    disable_nagle_algorithm = True
    # Idle keep-alive connections are closed after this; a hang fault does not read the socket.
    timeout = 30
    server: "_Server"

    # -- lifecycle

    def setup(self) -> None:
        super().setup()
        self.mirror._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.mirror._untrack(self.connection)

    @property
    def mirror(self) -> "Mirror":
        return self.server.mirror

    def version_string(self) -> str:
        return "nginx"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - base class signature
        log.debug("mirror: " + format, *args)

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        self._recorded = False
        rule = self.mirror._take_fault(self.path)
        if rule is not None:
            rule.fault.apply(self)
        else:
            self.send(self.normal_response())
        self.record(0)  # a fault that forgot to answer still leaves a trace

    # -- what faults may use

    def record(self, status: int) -> None:
        """Log this request once, before anything is written, so a client that has its answer
        always finds it in `mirror.requests`."""
        if not self._recorded:
            self._recorded = True
            entry = LoggedRequest(self.command, self.path, status, dict(self.headers.items()))
            self.mirror.requests.append(entry)

    def normal_response(self) -> Response:
        return self.mirror._route(self.command, self.path, self.headers)

    def start_response(self, status: int, headers: dict[str, str]) -> None:
        self.record(status)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def write(self, data: bytes) -> None:
        if self.command != "HEAD" and data:
            self.wfile.write(data)

    def send(self, response: Response) -> None:
        headers = dict(response.headers)
        headers.setdefault("Content-Length", str(len(response.body)))
        self.start_response(response.status, headers)
        if response.status not in (204, 304):
            self.write(response.body)

    def reset(self) -> None:
        """Abort with RST: linger 0 makes close() discard the connection instead of a FIN."""
        self.record(0)
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        # rfile holds a reference to the socket; close() only closes the fd once both are gone.
        self.rfile.close()
        self.connection.close()

    def drop(self) -> None:
        """Close the connection normally (FIN) once this handler returns."""
        self.record(0)
        self.close_connection = True

    def wait(self, seconds: float) -> bool:
        """Sleep; True if cut short because the mirror is stopping or going down."""
        return self.mirror._closing.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], mirror: "Mirror") -> None:
        self.mirror = mirror
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup that can stall offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client went away, or the mirror cut the connection on purpose
        log.exception("mirror: error while serving %s", client_address)


# --------------------------------------------------------------------------------------------
# The mirror


class Mirror:
    """president.uz on 127.0.0.1. Every setter is safe to call while a client is crawling."""

    def __init__(
        self,
        releases: Iterable[Release] | None = None,
        *,
        per_page: int = 12,
        host: str = "127.0.0.1",
        port: int = 0,
        pager: str = "full",
        past_end: str = "empty",
    ) -> None:
        if pager not in PAGERS or past_end not in PAST_END:
            raise ValueError(f"pager one of {PAGERS}, past_end one of {PAST_END}")
        self._lock = threading.RLock()
        self._releases: dict[int, Release] = {}
        for release in default_releases() if releases is None else releases:
            self._releases[release.id] = copy.deepcopy(release)
        self.per_page = per_page
        self.pager = pager
        self.past_end = past_end
        self.host = host
        self._port = port
        self._layout = "default"
        self._robots = "User-agent: *\nDisallow:\n"
        self._rules: list[FaultRule] = []
        # Whole seconds, strictly rising on each change, so If-Modified-Since never hides an edit.
        self._modified = int(time.time())
        self._down = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self.requests = RequestLog()

    # -- lifecycle

    def start(self) -> "Mirror":
        with self._lock:
            if self._server is None and not self._down:
                self._closing.clear()
                self._listen()
        return self

    def stop(self) -> None:
        """Stop serving; returns within about two seconds even with faults in progress."""
        with self._lock:
            self._closing.set()
            self._down = False
            self._shutdown()

    def __enter__(self) -> "Mirror":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def _listen(self) -> None:
        # Coming back up reuses the port the clients know; a TIME_WAIT may hold it for a moment.
        deadline = time.monotonic() + 2.0
        while True:
            try:
                server = _Server((self.host, self._port), self)
                break
            except OSError:
                if self._port == 0 or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"mirror:{self._port}", daemon=True
        )
        self._thread.start()

    def _shutdown(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        # Keep-alive connections would otherwise keep being served by their handler threads.
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if thread is not None:
            thread.join(timeout=2.0)

    def _track(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.discard(conn)

    @property
    def open_connections(self) -> int:
        """Connections a handler still serves: a request in hand is logged when answered, and the
        handler closes a connection once its client has gone (a killed crawler's, say)."""
        with self._conn_lock:
            return len(self._connections)

    # -- live changes

    @property
    def releases(self) -> list[Release]:
        """A copy of what is published, oldest id first."""
        with self._lock:
            return [copy.deepcopy(self._releases[i]) for i in sorted(self._releases)]

    def release(self, release_id: int) -> Release | None:
        with self._lock:
            found = self._releases.get(release_id)
            return copy.deepcopy(found) if found else None

    def publish(self, release: Release) -> None:
        """Add a release, or add/replace language versions of one already published (a late
        translation is `publish(Release(id, date, {"en": ...}))`)."""
        release = copy.deepcopy(release)
        with self._lock:
            old = self._releases.get(release.id)
            if old is not None:
                release.versions = {**old.versions, **release.versions}
            self._releases[release.id] = release
            self._touch()

    def edit(
        self, release_id: int, lang: str, title: str | None = None, paragraphs: list[str] | None = None
    ) -> None:
        """Change one language version in place (KeyError if it is not published)."""
        with self._lock:
            release = self._releases[release_id]
            version = release.versions[lang]
            new = dataclasses.replace(
                version,
                title=version.title if title is None else title,
                paragraphs=list(version.paragraphs if paragraphs is None else paragraphs),
            )
            # Replace, never mutate: a handler rendering right now keeps a consistent release.
            self._releases[release_id] = dataclasses.replace(release, versions={**release.versions, lang: new})
            self._touch()

    def remove(self, release_id: int, lang: str | None = None) -> None:
        """Unpublish a release, or only one language version of it (KeyError if absent)."""
        with self._lock:
            release = self._releases[release_id]
            if lang is None:
                del self._releases[release_id]
            else:
                versions = dict(release.versions)
                del versions[lang]
                self._releases[release_id] = dataclasses.replace(release, versions=versions)
            self._touch()

    def set_layout(self, layout: str) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
        with self._lock:
            self._layout = layout
            self._touch()

    @property
    def layout(self) -> str:
        return self._layout

    def set_robots(self, text: str) -> None:
        with self._lock:
            self._robots = text

    def set_down(self, down: bool = True) -> None:
        """Down: nothing listens on the port (connections are refused) and open connections are
        cut. Up again: the same port serves as before."""
        with self._lock:
            if down and not self._down:
                self._down = True
                self._closing.set()
                self._shutdown()
            elif not down and self._down:
                self._down = False
                self._closing.clear()
                self._listen()

    @property
    def is_down(self) -> bool:
        return self._down

    def _touch(self) -> None:
        self._modified = max(int(time.time()), self._modified + 1)

    # -- faults

    def add_fault(self, match: str | Callable[[str], bool], fault: Fault, times: int | None = None) -> FaultRule:
        """Append a rule; rules are consulted in order before normal serving."""
        rule = FaultRule(match, fault, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove_fault(self, rule: FaultRule) -> None:
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    def _take_fault(self, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(path):
                    rule.hits += 1
                    return rule
        return None

    # -- normal serving

    def _route(self, method: str, raw_path: str, headers) -> Response:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        if path == "/robots.txt":
            with self._lock:
                robots = self._robots
            return Response(200, {"Content-Type": "text/plain; charset=utf-8"}, robots.encode("utf-8"))
        if path.startswith("/uploads/"):
            return Response(200, {"Content-Type": "image/jpeg", "Cache-Control": "max-age=86400"}, _JPEG)
        if m := _LIST_PATH.match(path):
            return self._list_response(m.group(1), query, headers)
        if m := _ITEM_PATH.match(path):
            return self._item_response(m.group(1), int(m.group(2)), headers)
        lang = path.strip("/").split("/")[0]
        return self._not_found(lang)

    def _list_response(self, lang: str, query: dict[str, list[str]], headers) -> Response:
        page = _int(query.get("page", ["1"])[0], 1)
        base = f"/{lang}/lists/news"
        if "menu_id" in query:
            base += f"?menu_id={quote(query['menu_id'][0])}"
        with self._lock:
            releases, layout, modified = list(self._releases.values()), self._layout, self._modified
        last_page = max(1, math.ceil(sum(lang in r.versions for r in releases) / self.per_page))
        if page > last_page and self.past_end == "404":
            return self._not_found(lang)
        if page > last_page and self.past_end == "last":
            page = last_page
        page_html = render_list_page(releases, lang, page, per_page=self.per_page, layout=layout, base_path=base,
                                     pager=self.pager)
        return _html_response(page_html, modified, headers)

    def _item_response(self, lang: str, release_id: int, headers) -> Response:
        with self._lock:
            release, layout, modified = self._releases.get(release_id), self._layout, self._modified
            others = sorted(
                (r for r in self._releases.values() if r.id != release_id and lang in r.versions),
                key=lambda r: r.id,
                reverse=True,
            )[:5]
        if release is None or lang not in release.versions:
            return self._not_found(lang)
        page_html = render_item_page(release, lang, layout=layout, others=others)
        return _html_response(page_html, modified, headers)

    def _not_found(self, lang: str) -> Response:
        return Response(404, {"Content-Type": "text/html; charset=utf-8"}, render_not_found(lang).encode("utf-8"))


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _html_response(page_html: str, modified: int, request_headers) -> Response:
    body = page_html.encode("utf-8")
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "ETag": _etag(body),
        "Last-Modified": _http_date(modified),
    }
    if _not_modified(request_headers, headers["ETag"], modified):
        # RFC 9110 allows Content-Length on a 304 only if it is the 200's length: send that.
        return Response(304, {**headers, "Content-Length": str(len(body))})
    return Response(200, headers, body)


# --------------------------------------------------------------------------------------------
# Demo


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devsites.mirror", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port (default: 8080)")
    parser.add_argument("--releases", type=int, default=24, help="sample releases, plus the seed release")
    parser.add_argument("--per-page", type=int, default=12)
    parser.add_argument("--layout", choices=LAYOUTS, default="default")
    args = parser.parse_args(argv)

    # Ctrl-C stops it even when started in the background of a script, where SIGINT comes ignored
    # and Python would keep ignoring it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    releases = sample_releases(args.releases) + [seed_release()]
    mirror = Mirror(releases, per_page=args.per_page, host=args.host, port=args.port)
    mirror.set_layout(args.layout)
    with mirror:
        newest = max(r.id for r in releases)
        print(f"president.uz mirror on {mirror.base_url}  ({len(releases)} releases; Ctrl-C stops)", flush=True)
        for lang in LANGS:
            print(f"  {mirror.url(f'/{lang}/lists/news')}   {mirror.url(_item_url(lang, newest))}")
        print(f"  seed: {mirror.url('/uz/lists/view/5782')}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    raise SystemExit(main())
