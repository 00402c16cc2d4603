"""Hand-written sample documents in each list format, with random (benign) hashes."""

from __future__ import annotations

import random

_random = random.Random(20261121)


def rand_hex(digits: int) -> str:
    return "".join(_random.choice("0123456789abcdef") for _ in range(digits))


MD5_A, MD5_B, MD5_V = rand_hex(32), rand_hex(32), rand_hex(32)
SHA1_A, SHA1_B = rand_hex(40), rand_hex(40)
PDQ_A, PDQ_B = rand_hex(64), rand_hex(64)
PHOTODNA_A = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

NCMEC_XML = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
    <images count="3" maxTimestamp="2026-10-24T15:10:00Z">
        <image>
            <member id="42">Example Member</member>
            <timestamp>2026-10-24T15:00:00Z</timestamp>
            <id>image1</id>
            <classification>A1</classification>
            <fingerprints>
                <md5>{MD5_A.upper()}</md5>
                <sha1>{SHA1_A}</sha1>
                <pdq>{PDQ_A}</pdq>
                <pdna>{PHOTODNA_A}</pdna>
            </fingerprints>
            <feedback />
        </image>
        <image>
            <member id="42">Example Member</member>
            <id>image2</id>
            <classification>B2</classification>
            <fingerprints>
                <md5>{MD5_B}</md5>
                <netclean>opaque-value</netclean>
            </fingerprints>
        </image>
        <deletedImage>
            <member id="43">Example Member2</member>
            <id>image4</id>
            <timestamp>2026-10-24T15:10:00Z</timestamp>
        </deletedImage>
    </images>
    <videos count="1" maxTimestamp="2026-10-24T15:20:00Z">
        <video>
            <member id="42">Example Member</member>
            <id>video1</id>
            <classification>A2</classification>
            <fingerprints>
                <md5>{MD5_V}</md5>
                <tmk-pdqf rel="self" href="/v2/entries/1/fingerprints/TMK_PDQF"/>
            </fingerprints>
        </video>
    </videos>
    <paging><next>/v2/entries?start=2001&amp;size=1000&amp;max=3000</next></paging>
</queryResult>
"""

VICS_2_0 = f"""{{
  "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media",
  "value": [
    {{"MediaID": 1, "Category": 1, "MD5": "{MD5_A.upper()}", "SHA1": "{SHA1_A.upper()}",
      "MediaSize": 2835, "DateUpdated": "2026-06-07T02:31:49.8300Z", "IsPrecategorized": "true",
      "VictimIdentified": true, "Series": "placeholder-series", "Tags": ["alpha", "beta"],
      "SomeFutureField": {{"nested": [1, 2, 3]}}}},
    {{"MediaID": 2, "Category": 0, "MD5": "{MD5_B}", "PhotoDNA": "{PHOTODNA_A}"}},
    {{"MediaID": 3, "Category": 9, "MD5": "{rand_hex(32)}"}},
    {{"MediaID": 4, "Category": 2, "MediaSize": 10}}
  ]
}}"""

VICS_1_3_CASE = f"""{{
  "odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml/CUSTOM/$metadata#Cases",
  "value": [
    {{
      "CaseNumber": "placeholder-case-1",
      "Contact": {{"ContactName": "placeholder"}},
      "Media": [
        {{"MediaID": 10, "Category": 3, "MD5": "{MD5_A}", "SHA1": "{SHA1_A}"}},
        {{"MediaID": 11, "Category": 1,
          "MediaFiles": [{{"MD5": "{MD5_B}", "FileName": "x.jpg"}}]}}
      ],
      "SourceApplicationName": "placeholder-app"
    }}
  ]
}}"""

STOPNCII_JSON = f"""{{
  "count": 4,
  "nextPageToken": null,
  "nextSetTimestamp": 1795000000,
  "hasMoreRecords": false,
  "hashRecords": [
    {{"lastModtimestamp": 1795000000, "signalType": "ImagePDQ", "hashValue": "{PDQ_A}",
      "hashStatus": "Active", "caseNumbers": {{"c1": "Active"}}, "CSPFeedbacks": []}},
    {{"lastModtimestamp": 1795000000, "signalType": "VideoMD5", "hashValue": "{MD5_V}",
      "hashStatus": "Received", "caseNumbers": {{}}}},
    {{"lastModtimestamp": 1795000001, "signalType": "ImagePDQ", "hashValue": "{PDQ_B}",
      "hashStatus": "Withdrawn", "caseNumbers": {{}}}},
    {{"lastModtimestamp": 1795000002, "signalType": "VideoTMK", "hashValue": "abc",
      "hashStatus": "Active", "caseNumbers": {{}}}}
  ]
}}"""

CSV_DOC = f"""signal_type,value,labels
pdq,{PDQ_A},ncmec:a1;placeholder tag
md5,{MD5_A.upper()},iwf:B
# a comment line
sha1,{SHA1_A}
bogus,{MD5_B},
md5,{MD5_B[:30]},
pdq,{PDQ_A},
md5,{MD5_B},ncmec:Z9
"""

TE_DOC = f"""# exported by some tool
pdq {PDQ_A}
md5 {MD5_A} placeholder
pdq {PDQ_B[:-1]}g

sha256
"""
