//! Types several API areas share.

use poem_openapi::Enum;

/// Audio/subtitle combination an episode is offered or downloaded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "Language")]
pub enum Language {
    #[oai(rename = "German Dub")]
    GermanDub,
    #[oai(rename = "German Sub")]
    GermanSub,
    #[oai(rename = "English Sub")]
    EnglishSub,
    #[oai(rename = "English Dub")]
    EnglishDub,
}

impl From<aniworld_core::model::Language> for Language {
    fn from(l: aniworld_core::model::Language) -> Self {
        use aniworld_core::model::Language as L;
        match l {
            L::GermanDub => Language::GermanDub,
            L::GermanSub => Language::GermanSub,
            L::EnglishSub => Language::EnglishSub,
            L::EnglishDub => Language::EnglishDub,
        }
    }
}

impl From<Language> for aniworld_core::model::Language {
    fn from(l: Language) -> Self {
        use aniworld_core::model::Language as L;
        match l {
            Language::GermanDub => L::GermanDub,
            Language::GermanSub => L::GermanSub,
            Language::EnglishSub => L::EnglishSub,
            Language::EnglishDub => L::EnglishDub,
        }
    }
}
