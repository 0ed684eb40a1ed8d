"""What the demo corpus is about: sixteen events, each recoverable from one modality only.

As in MultiVENT, some events show only in the picture, some only in on-screen text, some only in
speech, some only in metadata. Each topic has three videos (variants of its evidence) and three
human-style queries; the first two queries train, the third is held out for testing.
"""

from __future__ import annotations

from dataclasses import dataclass

MODALITIES = ("visual", "text", "speech", "metadata")


@dataclass(frozen=True)
class Topic:
    topic_id: str
    modality: str
    queries: tuple[str, str, str]
    evidence: tuple[str, str, str] = ("", "", "")  # on-screen text, speech or metadata title per video
    descriptions: tuple[str, str, str] = ("", "", "")  # metadata descriptions (metadata topics)
    colour: str = ""  # visual topics
    shape: str = ""
    motion: str = ""


COLOURS = {"red": (225, 45, 45), "blue": (50, 90, 230), "green": (40, 175, 70), "yellow": (240, 215, 40),
           "purple": (150, 60, 210), "orange": (245, 140, 30), "pink": (240, 120, 190), "cyan": (40, 210, 220)}

TOPICS: tuple[Topic, ...] = (
    Topic("bouncing-red-ball", "visual",
          ("a red ball bouncing up and down", "bouncing red ball animation", "red ball that keeps bouncing"),
          colour="red", shape="circle", motion="bounce"),
    Topic("sliding-blue-square", "visual",
          ("a blue square moving from left to right", "blue box sliding across the screen", "blue square slides sideways"),
          colour="blue", shape="square", motion="slide"),
    Topic("spinning-green-triangle", "visual",
          ("a spinning green triangle", "green triangle rotating in the middle", "green triangle turning around"),
          colour="green", shape="triangle", motion="spin"),
    Topic("colliding-yellow-balls", "visual",
          ("two yellow balls crashing into each other", "yellow circles colliding in the middle",
           "two yellow balls moving towards each other"),
          colour="yellow", shape="circle", motion="collide"),
    Topic("bridge-closed", "text",
          ("bridge closed for repair work", "sign saying the bridge is closed", "closure of the main bridge"),
          evidence=("BRIDGE CLOSED FOR REPAIRS", "MAIN BRIDGE CLOSED", "BRIDGE CLOSED UNTIL FRIDAY")),
    Topic("flood-warning", "text",
          ("flood warning issued for the river area", "flood alert notice", "warning about flooding tonight"),
          evidence=("FLOOD WARNING IN EFFECT", "FLOOD WARNING RIVER AREA", "FLOOD WARNING TONIGHT")),
    Topic("farmers-market", "text",
          ("farmers market this weekend", "advert for a farmers market", "farmers market opening"),
          evidence=("FARMERS MARKET SATURDAY", "FRESH FARMERS MARKET", "FARMERS MARKET OPEN")),
    Topic("election-results", "text",
          ("local election results announcement", "election night results", "live coverage of election results"),
          evidence=("ELECTION RESULTS TONIGHT", "LOCAL ELECTION RESULTS", "ELECTION RESULTS LIVE")),
    Topic("wildfire-evacuation", "speech",
          ("families evacuated because of a wildfire", "wildfire evacuation in the valley", "residents fleeing a forest fire"),
          evidence=("The wildfire near the northern valley forced hundreds of families to leave their homes.",
                    "Firefighters are still fighting the wildfire and families were evacuated.",
                    "Smoke from the wildfire covered the valley as residents left their homes.")),
    Topic("chess-championship", "speech",
          ("team wins a chess championship", "regional chess tournament final", "students celebrate chess victory"),
          evidence=("Our team won the regional chess championship after a long final game.",
                    "The chess championship final lasted five hours before our team won.",
                    "Students celebrated winning the chess championship today.")),
    Topic("snow-mountain-pass", "speech",
          ("heavy snow blocks a mountain pass", "trucks stranded by snow in the mountains", "mountain road closed due to snow"),
          evidence=("Heavy snow closed the mountain pass and stranded dozens of trucks.",
                    "The mountain pass is closed after heavy snow fell overnight.",
                    "Drivers were stuck for hours when snow blocked the mountain pass.")),
    Topic("library-opening", "speech",
          ("new public library opening downtown", "library offering free coding classes", "city opens a new library"),
          evidence=("The new library opens downtown next Monday with free coding classes.",
                    "Our city is opening a new public library with free classes for everyone.",
                    "The mayor said the new downtown library will offer free coding lessons.")),
    Topic("solar-eclipse", "metadata",
          ("people watching a solar eclipse", "total eclipse of the sun", "eclipse viewing event"),
          evidence=("Solar eclipse from the coast", "Total solar eclipse 2024", "Eclipse watch party"),
          descriptions=("We watched the solar eclipse from the beach.", "The moment the sun went dark.",
                        "Friends gathered to watch the eclipse.")),
    Topic("city-marathon", "metadata",
          ("runners finishing a city marathon", "marathon race through the city", "crowd cheering marathon runners"),
          evidence=("City marathon finish line", "Marathon runners 2023", "Running the city marathon"),
          descriptions=("Runners crossing the finish line downtown.", "Thousands ran the marathon this year.",
                        "The crowd cheered every runner.")),
    Topic("volcano-eruption", "metadata",
          ("volcano erupting at night", "lava flowing from a volcano", "volcanic eruption video"),
          evidence=("Volcano erupts at night", "Lava flow from volcano", "Volcanic eruption footage"),
          descriptions=("The volcano lit up the night sky.", "Lava reached the road by morning.",
                        "Filmed from a safe distance.")),
    Topic("robot-competition", "metadata",
          ("high school robot competition", "robotics contest finals", "students building robots for a contest"),
          evidence=("High school robot competition", "Robotics contest finals", "Robot building contest"),
          descriptions=("Teams competed with robots they built.", "The final round of the robotics contest.",
                        "Students spent months building their robots.")),
)

GENERIC_TITLES = ("Clip", "Untitled upload", "My video", "New footage", "Short video", "Recording")
GENERIC_DESCRIPTIONS = ("Uploaded from my phone.", "No description.", "Shared with friends.", "Raw footage.", "")
GENERIC_SPEECH = ("Okay, the recording has started.", "Let me show you this.", "Here is another short clip.",
                  "Hello everyone, welcome back.", "This was filmed earlier today.")
