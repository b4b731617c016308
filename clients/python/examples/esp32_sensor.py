"""An ESP32 sensor in the swarm (MicroPython): joins over Wi-Fi, answers probes, publishes its battery
and power when they change, reacts to a swarm event, and writes a reading to the replicated KV.

Copy to the board with swarm_lite.py:  mpremote cp swarm_lite.py :  +  mpremote cp esp32_sensor.py :main.py
"""
import time

import network  # MicroPython only: the board's Wi-Fi (swarm_lite itself does not use it)
from machine import ADC, Pin

import swarm_lite

WIFI = ("my-ssid", "my-password")
SEED = "192.168.1.20:5555"  # any node's gossip address ([network] gossip_port)
API = "192.168.1.20:5557"  # a node whose [api] bind_address the board can reach (for kv_put)
KEY = None  # the swarm's [security] swarm_key (base64) when the swarm is encrypted

wlan = network.WLAN(network.STA_IF)
wlan.active(True)
wlan.connect(*WIFI)
while not wlan.isconnected():
    time.sleep_ms(200)

sw = swarm_lite.Swarm(SEED, "greenhouse-1", key=KEY, labels=["sensor", "zone=greenhouse"],
                      host=wlan.ifconfig()[0], port=5555, api=API, seq_file="swarm.seq")
pump = Pin(2, Pin.OUT)
sw.on_event("water", lambda name, payload, origin: pump.value(1 if payload == b"on" else 0))

battery_adc = ADC(Pin(35))
last_pct, last_put = None, 0
while True:
    sw.poll(200)  # at least every 500 ms: a probe unanswered that long asks other members
    pct = round(battery_adc.read_u16() * 100 / 65535)
    if pct != last_pct:  # a metadata update costs a few packets: only on change
        sw.publish(battery=pct, power_w=0.12)
        last_pct = pct
    if time.ticks_diff(time.ticks_ms(), last_put) > 60000 and sw.joined:
        try:
            sw.kv_put("greenhouse/1/battery", pct)
        except OSError as e:
            print("kv_put:", e)
        last_put = time.ticks_ms()
