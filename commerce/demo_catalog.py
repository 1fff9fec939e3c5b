"""A demo catalog for the demo city's stores: real dishes and groceries, bilingual, deterministic.

Each store gets the menu of its kind, guessed from its name (a "Noodle House" sells noodles, a
"Pharmacy" medicine; an unrecognised name gets a convenience-store shelf). Products are shared:
both noodle houses sell SKU ``noodle-beef``, each at its own price, so search and categories see
one product. Prices, stock, ratings, sales and promotions vary per store but come from random
generators seeded with the store id and SKU, so the same stores always give the same catalog.
Listing dates are days before ``now`` (minutes, the caller's clock), a few products recent, so
"new" has something to show.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from commerce.catalog import Catalog, Category, Product, ShopStore, StoreItem

DAY = 1440.0

CATEGORIES: tuple[Category, ...] = (
    Category("food", "Food", None, "美食"),
    Category("noodles", "Noodles", "food", "面食"),
    Category("rice", "Rice dishes", "food", "米饭"),
    Category("dumplings", "Dumplings & dim sum", "food", "饺子点心"),
    Category("hotpot", "Hotpot & malatang", "food", "火锅麻辣烫"),
    Category("western", "Burgers, pizza & western", "food", "西式快餐"),
    Category("japanese", "Sushi & Japanese", "food", "日料寿司"),
    Category("snacks", "Snacks & desserts", "food", "小吃甜点"),
    Category("drinks", "Drinks", "food", "饮品"),
    Category("coffee", "Coffee", "drinks", "咖啡"),
    Category("tea", "Tea & milk tea", "drinks", "茶饮"),
    Category("soft_drinks", "Soft drinks", "drinks", "饮料"),
    Category("grocery", "Groceries", None, "生鲜超市"),
    Category("fruit", "Fruit", "grocery", "水果"),
    Category("vegetables", "Vegetables", "grocery", "蔬菜"),
    Category("dairy", "Dairy", "grocery", "乳品"),
    Category("meat_eggs", "Meat & eggs", "grocery", "肉禽蛋"),
    Category("pantry", "Rice, oil & pantry", "grocery", "粮油调味"),
    Category("pharmacy", "Pharmacy", None, "医药健康"),
    Category("cold_flu", "Cold & flu", "pharmacy", "感冒发烧"),
    Category("pain", "Pain relief", "pharmacy", "止痛"),
    Category("vitamins", "Vitamins & supplements", "pharmacy", "维生素保健"),
    Category("digestive", "Digestive health", "pharmacy", "肠胃用药"),
    Category("first_aid", "First aid & devices", "pharmacy", "外伤护理"),
)

# sku: (English name, Chinese name, category, base price in yuan, tags, recently listed)
_PRODUCTS: dict[str, tuple[str, str, str, float, tuple[str, ...], bool]] = {
    # noodles
    "noodle-beef": ("Beef noodle soup", "牛肉面", "noodles", 28, ("beef",), False),
    "noodle-braised-beef": ("Braised beef noodles", "红烧牛肉面", "noodles", 32, ("beef",), False),
    "noodle-lanzhou": ("Lanzhou hand-pulled noodles", "兰州拉面", "noodles", 22, ("beef", "牛肉"), False),
    "noodle-scallion-oil": ("Scallion oil noodles", "葱油拌面", "noodles", 16, ("vegetarian",), False),
    "noodle-zhajiang": ("Zhajiang noodles", "炸酱面", "noodles", 20, (), False),
    "noodle-dandan": ("Dan dan noodles", "担担面", "noodles", 22, ("spicy", "辣"), False),
    "noodle-pork-chop": ("Pork chop noodles", "大排面", "noodles", 26, ("pork",), False),
    "noodle-wonton": ("Shrimp wonton noodles", "虾仁馄饨面", "noodles", 30, ("shrimp",), False),
    "noodle-tomato-egg": ("Tomato and egg noodles", "番茄鸡蛋面", "noodles", 18, ("vegetarian",), True),
    "noodle-sweet-potato": ("Sweet potato glass noodles", "红薯粉", "noodles", 8, (), False),
    "noodle-udon": ("Beef udon", "肥牛乌冬面", "noodles", 38, ("牛肉",), False),
    # dumplings and dim sum
    "dumpling-pork-cabbage": ("Pork and cabbage dumplings", "猪肉白菜水饺", "dumplings", 24, ("pork",), False),
    "dumpling-shepherds-purse": ("Pork and shepherd's purse dumplings", "荠菜猪肉水饺", "dumplings", 26, ("pork",), False),
    "dumpling-shrimp": ("Three-delicacy shrimp dumplings", "三鲜虾仁水饺", "dumplings", 32, ("shrimp",), False),
    "dumpling-chive-egg": ("Chive and egg dumplings", "韭菜鸡蛋水饺", "dumplings", 22, ("vegetarian",), False),
    "dumpling-beef": ("Beef and onion dumplings", "牛肉洋葱水饺", "dumplings", 30, ("beef",), True),
    "dumpling-potsticker": ("Pan-fried potstickers", "锅贴", "dumplings", 18, ("pork",), False),
    "dumpling-shengjian": ("Pan-fried pork buns", "生煎包", "dumplings", 16, ("pork",), False),
    "wonton-small": ("Small wontons in broth", "小馄饨", "dumplings", 15, ("pork",), False),
    "wonton-big": ("Big pork wontons", "大馄饨", "dumplings", 20, ("pork",), False),
    "xlb-pork": ("Pork soup dumplings", "鲜肉小笼包", "dumplings", 28, ("xiaolongbao", "pork"), False),
    "xlb-crab": ("Crab roe soup dumplings", "蟹粉小笼包", "dumplings", 58, ("xiaolongbao", "crab"), False),
    "xlb-shrimp": ("Shrimp soup dumplings", "虾仁小笼包", "dumplings", 38, ("xiaolongbao", "shrimp"), False),
    "xlb-truffle": ("Black truffle soup dumplings", "黑松露小笼包", "dumplings", 68, ("xiaolongbao",), True),
    "dimsum-har-gow": ("Crystal shrimp dumplings (har gow)", "水晶虾饺", "dumplings", 32, ("shrimp",), False),
    "dimsum-siu-mai": ("Pork siu mai", "烧卖", "dumplings", 26, ("pork",), False),
    "dimsum-char-siu-bao": ("BBQ pork buns", "叉烧包", "dumplings", 22, ("pork",), False),
    "dimsum-cheung-fun": ("Shrimp rice noodle rolls", "鲜虾肠粉", "dumplings", 24, ("shrimp",), False),
    "dimsum-chicken-feet": ("Black bean chicken feet", "豉汁凤爪", "dumplings", 22, (), False),
    "dimsum-turnip-cake": ("Pan-fried turnip cake", "香煎萝卜糕", "dumplings", 18, (), False),
    "dimsum-lava-bun": ("Salted egg custard buns", "流沙包", "dumplings", 20, (), True),
    # rice
    "rice-congee": ("Preserved egg and pork congee", "皮蛋瘦肉粥", "rice", 15, ("pork",), False),
    "rice-claypot": ("Claypot rice with Cantonese sausage", "腊味煲仔饭", "rice", 42, ("pork",), False),
    "rice-plain": ("Steamed rice", "米饭", "rice", 3, (), False),
    "bento-teriyaki": ("Teriyaki chicken rice", "照烧鸡腿饭", "rice", 32, ("chicken", "bento"), False),
    "bento-pork-cutlet": ("Pork cutlet curry rice", "猪排咖喱饭", "rice", 36, ("pork", "bento"), False),
    "bento-beef": ("Beef rice bowl", "肥牛饭", "rice", 34, ("牛肉", "bento"), False),
    "bento-eel": ("Grilled eel rice", "鳗鱼饭", "rice", 58, ("bento",), False),
    "bento-braised-pork": ("Braised pork belly rice", "红烧肉饭", "rice", 28, ("pork", "bento"), False),
    "bento-tomato-beef": ("Tomato beef brisket rice", "番茄牛腩饭", "rice", 34, ("beef", "牛肉", "bento"), True),
    "bento-veg": ("Vegetable bento", "素菜便当", "rice", 24, ("vegetarian", "bento"), False),
    "bistro-risotto": ("Mushroom risotto", "蘑菇烩饭", "rice", 56, ("vegetarian",), False),
    # hotpot and malatang
    "hotpot-beef-tallow": ("Spicy beef tallow hotpot set", "牛油麻辣火锅套餐", "hotpot", 128, ("spicy", "辣"), False),
    "hotpot-tomato": ("Tomato broth hotpot set", "番茄锅底火锅套餐", "hotpot", 108, (), False),
    "hotpot-mushroom": ("Wild mushroom broth hotpot set", "菌汤火锅套餐", "hotpot", 118, (), True),
    "hotpot-beef-slices": ("Sliced fatty beef", "肥牛卷", "hotpot", 48, ("牛肉",), False),
    "hotpot-lamb-slices": ("Sliced lamb", "羊肉卷", "hotpot", 52, ("lamb",), False),
    "hotpot-tripe": ("Beef tripe", "毛肚", "hotpot", 58, ("牛肚",), False),
    "hotpot-shrimp-paste": ("Shrimp paste", "虾滑", "hotpot", 38, ("shrimp",), False),
    "hotpot-tofu": ("Frozen tofu", "冻豆腐", "hotpot", 12, ("vegetarian",), False),
    "hotpot-veg-platter": ("Vegetable platter", "蔬菜拼盘", "hotpot", 22, ("vegetarian",), False),
    "hotpot-fish-balls": ("Fish balls", "鱼丸", "hotpot", 12, (), False),
    "malatang-classic": ("Classic malatang bowl", "经典麻辣烫", "hotpot", 25, ("spicy", "辣"), False),
    "malatang-bone-broth": ("Bone broth malatang", "骨汤麻辣烫", "hotpot", 25, (), False),
    "malatang-tomato": ("Tomato malatang", "番茄麻辣烫", "hotpot", 27, (), True),
    "malatang-xiangguo": ("Spicy stir-fried pot", "麻辣香锅", "hotpot", 38, ("spicy", "辣"), False),
    # western
    "burger-beef": ("Classic beef burger", "经典牛肉汉堡", "western", 38, ("beef",), False),
    "burger-cheese": ("Double cheeseburger", "双层芝士汉堡", "western", 45, ("beef", "牛肉"), False),
    "burger-chicken": ("Crispy chicken burger", "香脆鸡腿堡", "western", 32, ("chicken",), False),
    "burger-fish": ("Fish fillet burger", "鳕鱼堡", "western", 34, (), False),
    "burger-veggie": ("Plant-based veggie burger", "植物肉素食汉堡", "western", 36, ("vegetarian",), True),
    "pizza-margherita": ("Margherita pizza", "玛格丽特披萨", "western", 58, ("vegetarian",), False),
    "pizza-pepperoni": ("Pepperoni pizza", "意式辣香肠披萨", "western", 68, (), False),
    "pizza-hawaiian": ("Hawaiian pizza", "夏威夷披萨", "western", 62, (), False),
    "pizza-seafood": ("Seafood pizza", "海鲜披萨", "western", 78, ("shrimp",), False),
    "pizza-four-cheese": ("Four cheese pizza", "四重芝士披萨", "western", 72, ("vegetarian",), False),
    "pizza-durian": ("Durian pizza", "榴莲披萨", "western", 78, (), True),
    "chicken-crispy": ("Crispy fried chicken", "香脆炸鸡", "western", 32, ("chicken",), False),
    "chicken-spicy": ("Spicy fried chicken", "香辣炸鸡", "western", 34, ("chicken", "spicy", "辣"), False),
    "chicken-korean": ("Korean sweet chili chicken", "韩式甜辣炸鸡", "western", 42, ("chicken",), False),
    "chicken-drumstick": ("Fried chicken drumstick", "炸鸡腿", "western", 14, ("chicken",), False),
    "chicken-bucket": ("Half-and-half chicken bucket", "半半炸鸡全家桶", "western", 79, ("chicken",), True),
    "bistro-steak": ("Sirloin steak", "西冷牛排", "western", 128, ("beef", "牛肉"), False),
    "bistro-salmon": ("Pan-seared salmon", "香煎三文鱼", "western", 98, ("salmon",), True),
    "bistro-carbonara": ("Spaghetti carbonara", "培根奶油意面", "western", 58, ("pasta",), False),
    "bistro-bolognese": ("Spaghetti bolognese", "肉酱意面", "western", 52, ("pasta", "beef"), False),
    "bistro-caesar": ("Caesar salad", "凯撒沙拉", "western", 42, ("salad",), False),
    "bistro-fish-chips": ("Fish and chips", "炸鱼薯条", "western", 62, (), False),
    "bistro-soup": ("Cream of mushroom soup", "奶油蘑菇汤", "western", 28, ("vegetarian",), False),
    # japanese
    "sushi-salmon": ("Salmon nigiri", "三文鱼握寿司", "japanese", 28, ("salmon",), False),
    "sushi-tuna": ("Tuna nigiri", "金枪鱼握寿司", "japanese", 32, (), False),
    "sushi-eel": ("Eel nigiri", "鳗鱼握寿司", "japanese", 30, (), False),
    "sushi-california": ("California roll", "加州卷", "japanese", 32, ("sushi", "寿司"), False),
    "sushi-sashimi": ("Salmon sashimi", "三文鱼刺身", "japanese", 68, ("salmon",), False),
    "sushi-platter": ("Sushi platter for two", "双人寿司拼盘", "japanese", 138, (), False),
    "sushi-aburi": ("Torched salmon roll", "炙烤三文鱼卷", "japanese", 42, ("salmon", "sushi", "寿司"), True),
    "sushi-tamago": ("Sweet egg nigiri", "玉子烧寿司", "japanese", 16, ("vegetarian",), False),
    # snacks and desserts
    "snack-tea-egg": ("Tea egg", "茶叶蛋", "snacks", 3, (), False),
    "snack-cucumber": ("Smashed cucumber salad", "拍黄瓜", "snacks", 12, ("vegetarian",), False),
    "snack-scallion-pancake": ("Scallion pancake", "葱油饼", "snacks", 10, ("vegetarian",), False),
    "snack-rice-balls": ("Sweet rice balls in rice wine", "酒酿圆子", "snacks", 12, ("dessert",), False),
    "snack-eight-treasure": ("Eight-treasure rice pudding", "八宝饭", "snacks", 18, ("dessert",), False),
    "snack-egg-tart": ("Portuguese egg tarts", "葡式蛋挞", "snacks", 16, ("dessert",), False),
    "snack-fries": ("French fries", "薯条", "snacks", 14, ("vegetarian",), False),
    "snack-onion-rings": ("Onion rings", "洋葱圈", "snacks", 16, ("vegetarian",), False),
    "snack-nuggets": ("Chicken nuggets", "鸡块", "snacks", 18, ("chicken",), False),
    "snack-wings": ("Roasted chicken wings", "烤鸡翅", "snacks", 32, ("chicken",), False),
    "snack-popcorn-chicken": ("Popcorn chicken", "盐酥鸡", "snacks", 18, ("chicken",), False),
    "snack-miso": ("Miso soup", "味噌汤", "snacks", 8, (), False),
    "snack-edamame": ("Salted edamame", "盐水毛豆", "snacks", 10, ("vegetarian",), False),
    "snack-croissant": ("Butter croissant", "黄油可颂", "snacks", 16, ("bakery",), False),
    "snack-cheesecake": ("Basque cheesecake", "巴斯克芝士蛋糕", "snacks", 32, ("dessert", "bakery"), False),
    "snack-sandwich": ("Ham and cheese sandwich", "火腿芝士三明治", "snacks", 26, ("bakery",), False),
    "snack-tiramisu": ("Tiramisu", "提拉米苏", "snacks", 36, ("dessert",), False),
    # coffee
    "coffee-americano": ("Americano", "美式咖啡", "coffee", 22, ("coffee",), False),
    "coffee-latte": ("Caffe latte", "拿铁咖啡", "coffee", 28, ("coffee", "milk", "牛奶"), False),
    "coffee-cappuccino": ("Cappuccino", "卡布奇诺", "coffee", 28, ("coffee", "咖啡", "milk"), False),
    "coffee-flat-white": ("Flat white", "澳白", "coffee", 30, ("coffee", "咖啡", "milk"), False),
    "coffee-coconut-latte": ("Coconut latte", "生椰拿铁", "coffee", 29, ("coffee", "咖啡"), False),
    "coffee-oat-latte": ("Oat milk latte", "燕麦拿铁", "coffee", 32, ("coffee", "咖啡"), True),
    "coffee-mocha": ("Cafe mocha", "摩卡", "coffee", 30, ("coffee", "咖啡", "chocolate"), False),
    "coffee-cold-brew": ("Cold brew coffee", "冷萃咖啡", "coffee", 26, (), False),
    # tea
    "tea-pearl-milk": ("Pearl milk tea", "珍珠奶茶", "tea", 16, ("boba",), False),
    "tea-brown-sugar": ("Brown sugar boba fresh milk", "黑糖珍珠鲜奶", "tea", 19, ("boba", "牛奶"), False),
    "tea-taro": ("Taro milk tea", "芋泥波波奶茶", "tea", 18, ("boba",), False),
    "tea-oolong-milk": ("Oolong milk tea", "乌龙奶茶", "tea", 17, (), False),
    "tea-mango-sago": ("Mango pomelo sago", "杨枝甘露", "tea", 22, ("mango",), False),
    "tea-grape": ("Cheese foam grape tea", "芝士多肉葡萄", "tea", 26, ("fruit tea",), False),
    "tea-lemon": ("Hand-pressed lemon tea", "手打柠檬茶", "tea", 15, ("fruit tea",), False),
    "tea-jasmine": ("Jasmine green tea", "茉莉绿茶", "tea", 12, (), False),
    "tea-strawberry-milk": ("Strawberry fresh milk", "草莓鲜牛奶", "tea", 22, (), True),
    "tea-hk-milk": ("Hong Kong milk tea", "港式奶茶", "tea", 16, (), False),
    # soft drinks
    "drink-coke": ("Coca-Cola", "可口可乐", "soft_drinks", 8, ("cola", "可乐"), False),
    "drink-sprite": ("Sprite", "雪碧", "soft_drinks", 8, (), False),
    "drink-milkshake": ("Vanilla milkshake", "香草奶昔", "soft_drinks", 22, ("milk",), False),
    "drink-plum": ("Sour plum juice", "酸梅汤", "soft_drinks", 8, (), False),
    "drink-soy-milk": ("Fresh soy milk", "现磨豆浆", "soft_drinks", 5, ("vegetarian",), False),
    "drink-herbal-tea": ("Herbal tea", "王老吉凉茶", "soft_drinks", 7, (), False),
    "drink-green-tea": ("Bottled green tea", "瓶装绿茶", "soft_drinks", 6, (), False),
    "drink-lemonade": ("Fresh lemonade", "鲜榨柠檬水", "soft_drinks", 18, (), False),
    "drink-water": ("Mineral water 550 ml", "矿泉水 550毫升", "soft_drinks", 2.5, (), False),
    # groceries
    "fruit-apple": ("Fuji apples 500 g", "红富士苹果 500克", "fruit", 9.9, (), False),
    "fruit-banana": ("Bananas 1 kg", "香蕉 1公斤", "fruit", 8.8, (), False),
    "fruit-strawberry": ("Dandong strawberries 300 g", "丹东草莓 300克", "fruit", 29.9, (), False),
    "fruit-grape": ("Shine Muscat grapes 500 g", "阳光玫瑰葡萄 500克", "fruit", 39.9, (), True),
    "veg-tomato": ("Tomatoes 500 g", "西红柿 500克", "vegetables", 5.9, ("番茄",), False),
    "veg-bok-choy": ("Shanghai bok choy 500 g", "上海青 500克", "vegetables", 3.9, ("青菜",), False),
    "veg-potato": ("Potatoes 1 kg", "土豆 1公斤", "vegetables", 5.5, (), False),
    "dairy-organic-milk": ("Organic milk 1 L", "有机牛奶 1升", "dairy", 18.8, (), False),
    "dairy-whole-milk": ("Whole milk 250 ml x 12", "全脂纯牛奶 250毫升x12", "dairy", 49.9, (), False),
    "dairy-low-fat-milk": ("Low-fat milk 950 ml", "低脂牛奶 950毫升", "dairy", 15.9, (), True),
    "dairy-yogurt": ("Plain yogurt 200 g", "原味酸奶 200克", "dairy", 12.9, (), False),
    "meat-eggs": ("Free-range eggs x 10", "土鸡蛋 10枚", "meat_eggs", 16.8, (), False),
    "meat-beef-brisket": ("Beef brisket 500 g", "牛腩 500克", "meat_eggs", 49.9, ("beef", "牛肉"), False),
    "pantry-rice": ("Northeast rice 5 kg", "东北大米 5公斤", "pantry", 39.9, (), False),
    "pantry-instant-noodles": ("Braised beef instant noodles x 5", "红烧牛肉方便面 5连包", "pantry", 14.9, ("beef",), False),
    # pharmacy
    "med-cold-granules": ("Cold relief granules", "感冒灵颗粒", "cold_flu", 15.8, ("cold", "flu", "感冒"), False),
    "med-lianhua": ("Lianhua Qingwen capsules", "连花清瘟胶囊", "cold_flu", 28.5, ("cold", "flu", "感冒"), False),
    "med-ibuprofen": ("Ibuprofen sustained-release capsules", "布洛芬缓释胶囊", "pain", 18.5, ("fever", "退烧"), False),
    "med-paracetamol": ("Paracetamol tablets", "对乙酰氨基酚片", "pain", 9.8, ("fever", "退烧"), False),
    "med-vitamin-c": ("Vitamin C effervescent tablets", "维生素C泡腾片", "vitamins", 25, (), False),
    "med-multivitamin": ("Multivitamin tablets", "复合维生素片", "vitamins", 89, (), False),
    "med-calcium": ("Calcium with vitamin D chewables", "维D钙咀嚼片", "vitamins", 45, ("维生素",), True),
    "med-smecta": ("Montmorillonite powder", "蒙脱石散", "digestive", 16.5, ("diarrhea", "腹泻"), False),
    "med-probiotics": ("Probiotic powder", "益生菌粉", "digestive", 58, (), False),
    "med-thermometer": ("Digital thermometer", "电子体温计", "first_aid", 29.9, ("fever",), False),
    "med-bandages": ("Adhesive bandages x 100", "创可贴 100片", "first_aid", 12.9, ("band-aid",), False),
    "med-masks": ("Medical face masks x 50", "医用口罩 50只", "first_aid", 19.9, ("mask",), False),
    "med-iodine": ("Povidone-iodine swabs", "碘伏棉签", "first_aid", 9.9, (), False),
}



@dataclass(frozen=True)
class _Kind:
    """A kind of store: the words in a name that give it away, its hours and reach, its menu."""

    name: str
    keywords: tuple[str, ...]
    opens: float
    closes: float
    radius_m: float
    menu: tuple[str, ...]  # SKUs, best sellers first


def _hm(text: str) -> float:
    hours, minutes = text.split(":")
    return int(hours) * 60.0 + int(minutes)


# First match wins, so the more specific kinds come first ("Dim Sum" before "Dumplings").
KINDS: tuple[_Kind, ...] = (
    _Kind("pharmacy", ("pharmacy", "drugstore", "chemist", "药"), 0.0, DAY, 8000.0, (
        "med-cold-granules", "med-ibuprofen", "med-masks", "med-lianhua", "med-vitamin-c", "med-paracetamol",
        "med-thermometer", "med-bandages", "med-smecta", "med-iodine", "med-probiotics", "med-multivitamin", "med-calcium")),
    _Kind("grocery", ("grocery", "market", "supermarket", "超市", "生鲜"), _hm("07:00"), _hm("23:00"), 6000.0, (
        "dairy-whole-milk", "fruit-banana", "meat-eggs", "veg-tomato", "dairy-organic-milk", "fruit-apple",
        "dairy-yogurt", "veg-bok-choy", "pantry-instant-noodles", "fruit-strawberry", "veg-potato",
        "meat-beef-brisket", "pantry-rice", "fruit-grape", "dairy-low-fat-milk")),
    _Kind("bubble_tea", ("bubble tea", "milk tea", "boba", "奶茶"), _hm("10:00"), _hm("22:30"), 5000.0, (
        "tea-pearl-milk", "tea-brown-sugar", "tea-mango-sago", "tea-grape", "tea-lemon", "tea-taro",
        "tea-oolong-milk", "tea-jasmine", "tea-strawberry-milk")),
    _Kind("coffee", ("coffee", "cafe", "café", "咖啡"), _hm("07:30"), _hm("21:00"), 5000.0, (
        "coffee-coconut-latte", "coffee-latte", "coffee-americano", "coffee-cappuccino", "coffee-flat-white",
        "coffee-cold-brew", "coffee-mocha", "snack-croissant", "snack-sandwich", "snack-cheesecake", "coffee-oat-latte")),
    _Kind("xiaolongbao", ("xiaolongbao", "soup dumpling", "小笼"), _hm("07:00"), _hm("20:00"), 5000.0, (
        "xlb-pork", "xlb-crab", "dumpling-shengjian", "xlb-shrimp", "wonton-small", "noodle-scallion-oil",
        "snack-scallion-pancake", "snack-rice-balls", "snack-eight-treasure", "drink-soy-milk", "xlb-truffle")),
    _Kind("dim_sum", ("dim sum", "点心", "茶餐厅"), _hm("07:00"), _hm("21:30"), 5000.0, (
        "dimsum-har-gow", "dimsum-siu-mai", "dimsum-char-siu-bao", "dimsum-cheung-fun", "snack-egg-tart",
        "rice-claypot", "dimsum-chicken-feet", "rice-congee", "dimsum-turnip-cake", "tea-hk-milk", "dimsum-lava-bun")),
    _Kind("dumplings", ("dumpling", "饺"), _hm("07:00"), _hm("21:00"), 5000.0, (
        "dumpling-pork-cabbage", "dumpling-shengjian", "wonton-small", "dumpling-shrimp", "dumpling-potsticker",
        "dumpling-shepherds-purse", "dumpling-chive-egg", "wonton-big", "snack-cucumber", "drink-soy-milk",
        "drink-plum", "dumpling-beef")),
    _Kind("noodles", ("noodle", "ramen", "面馆", "拉面"), _hm("06:30"), _hm("21:00"), 5000.0, (
        "noodle-beef", "noodle-braised-beef", "noodle-pork-chop", "noodle-scallion-oil", "noodle-lanzhou",
        "noodle-wonton", "noodle-dandan", "noodle-zhajiang", "snack-tea-egg", "snack-cucumber", "drink-plum",
        "drink-soy-milk", "noodle-tomato-egg")),
    _Kind("malatang", ("malatang", "麻辣烫"), _hm("10:00"), DAY, 5000.0, (
        "malatang-classic", "malatang-bone-broth", "malatang-xiangguo", "hotpot-beef-slices", "hotpot-shrimp-paste",
        "hotpot-fish-balls", "hotpot-tofu", "noodle-sweet-potato", "hotpot-veg-platter", "rice-plain",
        "drink-plum", "drink-herbal-tea", "malatang-tomato")),
    _Kind("hotpot", ("hotpot", "hot pot", "火锅"), _hm("11:00"), _hm("02:00"), 6000.0, (
        "hotpot-beef-tallow", "hotpot-beef-slices", "hotpot-tripe", "hotpot-tomato", "hotpot-shrimp-paste",
        "hotpot-lamb-slices", "hotpot-tofu", "hotpot-veg-platter", "rice-plain", "drink-plum", "drink-herbal-tea",
        "hotpot-mushroom")),
    _Kind("fried_chicken", ("fried chicken", "chicken", "炸鸡"), _hm("10:00"), _hm("02:00"), 5000.0, (
        "chicken-crispy", "chicken-spicy", "snack-popcorn-chicken", "chicken-korean", "burger-chicken",
        "chicken-drumstick", "snack-fries", "snack-nuggets", "drink-coke", "drink-sprite", "chicken-bucket")),
    _Kind("burgers", ("burger", "汉堡"), _hm("10:00"), _hm("23:00"), 5000.0, (
        "burger-beef", "burger-cheese", "snack-fries", "burger-chicken", "snack-nuggets", "drink-coke",
        "burger-fish", "snack-onion-rings", "drink-milkshake", "drink-sprite", "burger-veggie")),
    _Kind("pizza", ("pizza", "披萨"), _hm("10:30"), _hm("23:00"), 5000.0, (
        "pizza-pepperoni", "pizza-margherita", "pizza-four-cheese", "pizza-hawaiian", "pizza-seafood",
        "snack-wings", "snack-fries", "bistro-caesar", "drink-coke", "drink-sprite", "pizza-durian")),
    _Kind("sushi", ("sushi", "japanese", "寿司"), _hm("11:00"), _hm("22:00"), 5000.0, (
        "sushi-salmon", "sushi-sashimi", "sushi-california", "sushi-tuna", "sushi-eel", "sushi-platter",
        "noodle-udon", "sushi-tamago", "snack-edamame", "snack-miso", "drink-green-tea", "sushi-aburi")),
    _Kind("bento", ("bento", "便当"), _hm("10:00"), _hm("21:00"), 5000.0, (
        "bento-teriyaki", "bento-braised-pork", "bento-beef", "bento-pork-cutlet", "bento-eel", "bento-veg",
        "snack-tea-egg", "snack-miso", "drink-green-tea", "rice-plain", "bento-tomato-beef")),
    _Kind("bistro", ("bistro", "western", "brasserie", "西餐"), _hm("11:00"), _hm("23:00"), 5000.0, (
        "bistro-steak", "bistro-carbonara", "bistro-bolognese", "bistro-caesar", "bistro-risotto",
        "bistro-fish-chips", "bistro-soup", "snack-tiramisu", "drink-lemonade", "coffee-americano", "bistro-salmon")),
)
CONVENIENCE = _Kind("convenience", (), 0.0, DAY, 3000.0, (
    "drink-water", "drink-coke", "snack-tea-egg", "pantry-instant-noodles", "drink-green-tea", "dairy-yogurt",
    "fruit-banana", "drink-sprite", "med-masks", "snack-sandwich"))


def kind_of(store_name: str) -> _Kind:
    """The store's kind from its name; a name no kind recognises gets a convenience-store shelf."""
    name = store_name.lower()
    return next((k for k in KINDS if any(word in name for word in k.keywords)), CONVENIENCE)


def demo_products(now: float = 0.0) -> list[Product]:
    """Every demo product, listed 20-400 days before ``now``, the recent ones 1-10 days before."""
    products = []
    for sku, (en, zh, category, _, tags, recent) in _PRODUCTS.items():
        rng = random.Random(f"listed:{sku}")
        age = rng.randint(1 * 1440, 10 * 1440) if recent else rng.randint(20 * 1440, 400 * 1440)
        products.append(Product(sku, en, zh, category, created_at=now - age, tags=tags))
    return products


def _item(store_id: str, sku: str, rank: int, promoted: bool) -> StoreItem:
    rng = random.Random(f"item:{store_id}:{sku}")
    base = round(_PRODUCTS[sku][3] * 100)
    step = 100 if base >= 2000 else 50  # a little dearer or cheaper than the next store, in round steps
    price = max(step, base + step * rng.choice((-2, -1, 0, 0, 1, 2)))
    sold_out = rank >= 3 and rng.random() < 0.05  # a few sold-out items to show, never a best seller
    stock = 0 if sold_out else rng.randint(12, 150)
    rating = round(min(5.0, max(3.6, rng.gauss(4.6, 0.25))), 1)
    sales = int(rng.randint(20, 300) * (1 + 6 * 0.7**rank))  # the menu lists best sellers first
    return StoreItem(store_id, sku, price, stock, rating, sales, promoted)


def demo_catalog(stores: Sequence[tuple[str, str, float, float]], now: float = 0.0) -> Catalog:
    """The demo catalog for ``(store id, name, lat, lng)`` stores, e.g. the demo city's 18.

    Two promoted items per store; everything else follows from the store id, its name and ``now``.
    """
    shops, items, sold = [], [], set()
    for store_id, name, lat, lng in stores:
        kind = kind_of(name)
        shops.append(ShopStore(store_id, name, lat, lng, kind.opens, kind.closes, kind.radius_m))
        promoted = set(random.Random(f"promoted:{store_id}").sample(kind.menu, 2))
        items.extend(_item(store_id, sku, rank, sku in promoted) for rank, sku in enumerate(kind.menu))
        sold.update(kind.menu)
    products = [p for p in demo_products(now) if p.sku in sold]
    return Catalog(shops, CATEGORIES, products, items)
