<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="ja" sourcelanguage="en">
<context>
    <name>kiosk</name>
    <message>
        <location filename="../texts.py" line="+31"/>
        <source>Language</source>
        <translation>言語</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>High contrast</source>
        <translation>ハイコントラスト</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Large text</source>
        <translation>文字を大きく</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Cancel</source>
        <translation>キャンセル</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Back</source>
        <translation>戻る</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please wait…</source>
        <translation>しばらくお待ちください…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk is starting. One moment, please.</source>
        <translation>端末を起動しています。しばらくお待ちください。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Welcome</source>
        <translation>いらっしゃいませ</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Cashback cards, paid by cash or card. Receipt included.</source>
        <translation>キャッシュバックカードを販売しています。現金またはカードでお支払いいただけます。レシートも発行します。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Touch the screen to start</source>
        <translation>画面をタッチしてはじめてください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Start</source>
        <translation>はじめる</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Choose your language</source>
        <translation>言語をお選びください</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Out of service</source>
        <translation>休止中</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Sorry, this kiosk cannot serve you right now. Staff have been told.</source>
        <translation>申し訳ございません。この端末は現在ご利用いただけません。係員には連絡済みです。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The kiosk hardware is not answering.</source>
        <translation>端末の機器が応答しません。</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+177"/>
        <source>No way to pay is working at the moment.</source>
        <translation>現在ご利用いただけるお支払い方法がありません。</translation>
    </message>
    <message>
        <location line="-174"/>
        <source>There is nothing this kiosk can sell at the moment.</source>
        <translation>現在ご購入いただける商品がありません。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The card dispenser needs attention.</source>
        <translation>カード発行機の点検が必要です。</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+182"/>
        <source>The card dispenser is not answering.</source>
        <translation>カード発行機が応答しません。</translation>
    </message>
    <message>
        <location line="-179"/>
        <location line="+176"/>
        <source>The card dispenser is empty.</source>
        <translation>カード発行機のカードが切れています。</translation>
    </message>
    <message>
        <location line="-175"/>
        <location line="+176"/>
        <source>The card dispenser is jammed.</source>
        <translation>カード発行機でカードが詰まっています。</translation>
    </message>
    <message>
        <location line="-175"/>
        <location line="+172"/>
        <source>The kiosk had an internal error.</source>
        <translation>端末で内部エラーが発生しました。</translation>
    </message>
    <message>
        <location line="-171"/>
        <source>The kiosk is being serviced.</source>
        <translation>ただいまメンテナンス中です。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Getting ready</source>
        <translation>準備しています</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>What would you like?</source>
        <translation>商品をお選びください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Not available now</source>
        <translation>現在ご購入いただけません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>ID document needed</source>
        <translation>本人確認書類が必要です</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>That product is not available right now. Please choose another.</source>
        <translation>この商品は現在ご購入いただけません。別の商品をお選びください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Your cashback card</source>
        <translation>キャッシュバックカード</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Do you have a cashback card? Its balance can pay part of the price.</source>
        <translation>キャッシュバックカードをお持ちですか？残高を代金の一部に充てられます。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Yes, use my card</source>
        <translation>はい、カードを使う</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>No, continue</source>
        <translation>いいえ、このまま進む</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Type the number printed on your card</source>
        <translation>カードに記載された番号を入力してください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>or hold your card to the reader</source>
        <translation>または、カードをカードリーダーにかざしてください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Swipe it on the terminal</source>
        <translation>カード端末で読み取る</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Looking up your card…</source>
        <translation>カードを照会しています…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Swipe your card on the payment terminal</source>
        <translation>カード端末にカードを通してください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Card {number}</source>
        <translation>カード番号 {number}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Balance: {amount}</source>
        <translation>残高：{amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Use {amount} of it for this purchase?</source>
        <translation>残高のうち{amount}を今回のお支払いに使いますか？</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Use my balance</source>
        <translation>残高を使う</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Keep my balance</source>
        <translation>残高を使わない</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+121"/>
        <source>OK</source>
        <translation>OK</translation>
    </message>
    <message>
        <location line="-120"/>
        <source>Delete</source>
        <translation>削除</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>We could not find that card. Check the number and try again.</source>
        <translation>カードが見つかりませんでした。番号をご確認のうえ、もう一度お試しください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>That card has expired.</source>
        <translation>このカードは有効期限が切れています。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>That card cannot be used here.</source>
        <translation>このカードはこちらではご利用いただけません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card&apos;s balance is not enough for that.</source>
        <translation>カードの残高が不足しています。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>That is not a card number. Please check it and try again.</source>
        <translation>カード番号が正しくありません。ご確認のうえ、もう一度入力してください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>No card was read. You can try again.</source>
        <translation>カードは読み取られませんでした。もう一度お試しいただけます。</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+1"/>
        <source>The card could not be read. Try again.</source>
        <translation>カードを読み取れませんでした。もう一度お試しください。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Scan your ID document</source>
        <translation>本人確認書類をスキャンしてください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Place your ID document face down on the scanner.</source>
        <translation>本人確認書類の表面を下にして、スキャナーに置いてください。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Is your ID easy to read?</source>
        <translation>本人確認書類の画像ははっきり読めますか？</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Yes, continue</source>
        <translation>はい、次へ進む</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Scan again</source>
        <translation>もう一度スキャンする</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please scan your ID document again.</source>
        <translation>本人確認書類をもう一度スキャンしてください。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Preparing your card</source>
        <translation>カードを準備しています</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This takes a few seconds.</source>
        <translation>数秒で完了します。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>How would you like to pay?</source>
        <translation>お支払い方法をお選びください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>To pay: {amount}</source>
        <translation>お支払い金額：{amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Cashback used: {amount}</source>
        <translation>キャッシュバック利用額：{amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Cash</source>
        <translation>現金</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Banknotes only, no change given</source>
        <translation>紙幣のみ・おつりは出ません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Card</source>
        <translation>カード</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Debit or credit card, contactless</source>
        <translation>クレジット・デビットカード（タッチ決済対応）</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Pay the rest by card</source>
        <translation>残りをカードで支払う</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Insert your banknotes</source>
        <translation>紙幣を投入してください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This kiosk gives no change: a note larger than the amount left is returned.</source>
        <translation>おつりは出ません。残り金額を超える紙幣は返却されます。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Amount due</source>
        <translation>お支払い金額</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Inserted</source>
        <translation>投入金額</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Remaining</source>
        <translation>残り金額</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Checking your {amount} note…</source>
        <translation>{amount}の紙幣を確認しています…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>{amount} accepted. Thank you.</source>
        <translation>{amount}を受け付けました。ありがとうございます。</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+26"/>
        <source>Checking your note…</source>
        <translation>紙幣を確認しています…</translation>
    </message>
    <message>
        <location line="-25"/>
        <source>{amount} returned: it is more than the amount left. Please take it.</source>
        <translation>{amount}の紙幣は残り金額を超えるため返却しました。お受け取りください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Note returned: it was not recognised. Please take it.</source>
        <translation>紙幣を識別できなかったため返却しました。お受け取りください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+1"/>
        <location line="+1"/>
        <location line="+1"/>
        <location line="+1"/>
        <source>Note returned. Please take it.</source>
        <translation>紙幣を返却しました。お受け取りください。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Pay by card</source>
        <translation>カードでお支払い</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Amount: {amount}</source>
        <translation>金額：{amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Connecting to the card terminal…</source>
        <translation>カード端末に接続しています…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Present your card on the terminal below the screen.</source>
        <translation>画面下のカード端末にカードをかざすか、差し込んでください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Card read. One moment…</source>
        <translation>カードを読み取りました。少々お待ちください…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Enter your PIN on the terminal.</source>
        <translation>カード端末で暗証番号を入力してください。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Authorising with your bank. Do not remove your card.</source>
        <translation>カード会社に確認しています。カードを抜かないでください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Cancelling the payment…</source>
        <translation>お支払いをキャンセルしています…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Payment finished.</source>
        <translation>お支払いが完了しました。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Note accepted.</source>
        <translation>紙幣を受け付けました。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Note returned.</source>
        <translation>紙幣を返却しました。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The payment was declined. You can try again or pay another way.</source>
        <translation>お支払いが承認されませんでした。もう一度お試しいただくか、別の方法でお支払いください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The payment took too long and was stopped. You have not been charged.</source>
        <translation>お支払いに時間がかかりすぎたため中止しました。料金は請求されていません。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The payment was cancelled.</source>
        <translation>お支払いをキャンセルしました。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The payment did not go through. Please try again or pay another way.</source>
        <translation>お支払いを完了できませんでした。もう一度お試しいただくか、別の方法でお支払いください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The payment is being authorised and cannot be cancelled now.</source>
        <translation>お支払いの承認処理中のため、キャンセルできません。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Using your cashback balance…</source>
        <translation>キャッシュバック残高を適用しています…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Your card is coming out</source>
        <translation>カードが出てきます</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please take your card from the slot.</source>
        <translation>取り出し口からカードをお取りください。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Printing your receipt…</source>
        <translation>レシートを印刷しています…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Thank you!</source>
        <translation>ありがとうございました</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please take your card and your receipt.</source>
        <translation>カードとレシートをお受け取りください。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Done</source>
        <translation>終了</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The printer is not working: here is your receipt. Scan the code to keep it.</source>
        <translation>プリンターが使用できないため、レシートを画面に表示しています。コードを読み取って保存してください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The printer is not working: here is your refund voucher. Take a photo of it.</source>
        <translation>プリンターが使用できないため、返金引換券を画面に表示しています。写真を撮って保管してください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Cancelling…</source>
        <translation>キャンセルしています…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Anything you paid is being given back. Please wait.</source>
        <translation>お支払いいただいた金額を返金しています。しばらくお待ちください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Sorry</source>
        <translation>申し訳ございません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>You can start again when you are ready.</source>
        <translation>準備ができましたら、最初からもう一度お試しください。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please ask a member of staff for help. The kiosk has recorded what happened.</source>
        <translation>お近くの係員にお声がけください。状況は端末に記録されています。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Nothing was charged.</source>
        <translation>料金は請求されていません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Given back: {amount}</source>
        <translation>ご返金額：{amount}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Keep your refund voucher: staff will pay it back.</source>
        <translation>返金引換券は大切に保管してください。係員が返金いたします。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Staff will return {amount} to you. Keep your reference: {sale}</source>
        <translation>係員が{amount}を返金いたします。取引番号「{sale}」をお控えください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Your purchase was cancelled.</source>
        <translation>ご購入はキャンセルされました。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Your purchase could not be finished. A refund voucher was issued.</source>
        <translation>ご購入を完了できませんでした。返金引換券を発行しました。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Your purchase could not be finished and your money could not be returned.</source>
        <translation>ご購入を完了できず、ご返金もできませんでした。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>We could not confirm your card payment.</source>
        <translation>カードでのお支払いを確認できませんでした。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>We could not confirm all the notes you inserted. Staff will check the banknote reader and give back what is yours.</source>
        <translation>投入された紙幣をすべて確認できませんでした。係員が紙幣識別機を確認し、お客様の紙幣をお返しいたします。</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Your payment could not be refunded.</source>
        <translation>お支払いを返金できませんでした。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>We could not confirm the use of your cashback balance.</source>
        <translation>キャッシュバック残高のご利用を確認できませんでした。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Your cashback balance could not be used.</source>
        <translation>キャッシュバック残高をご利用いただけませんでした。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk took too long to respond.</source>
        <translation>端末の応答に時間がかかりすぎました。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk hardware is busy.</source>
        <translation>端末の機器が使用中です。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk hardware stopped responding.</source>
        <translation>端末の機器が応答しなくなりました。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Cancelled.</source>
        <translation>キャンセルしました。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The card dispenser has a fault.</source>
        <translation>カード発行機に異常が発生しています。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>The new card could not be read.</source>
        <translation>新しいカードを読み取れませんでした。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card dispenser is out of service.</source>
        <translation>カード発行機は休止中です。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>We could not confirm your card came out.</source>
        <translation>カードが発行されたか確認できませんでした。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The printer is out of paper.</source>
        <translation>プリンターの用紙が切れています。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The printer is not answering.</source>
        <translation>プリンターが応答しません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The banknote reader is jammed.</source>
        <translation>紙幣識別機で紙幣が詰まっています。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The banknote reader is full.</source>
        <translation>紙幣の収納庫が満杯です。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The banknote reader has a fault.</source>
        <translation>紙幣識別機に異常が発生しています。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The banknote reader is not answering.</source>
        <translation>紙幣識別機が応答しません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The ID scanner is not answering.</source>
        <translation>本人確認書類スキャナーが応答しません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card terminal is busy.</source>
        <translation>カード端末が使用中です。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card terminal is not answering.</source>
        <translation>カード端末が応答しません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card terminal refused the request.</source>
        <translation>カード端末で処理が拒否されました。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card reader is not answering.</source>
        <translation>カードリーダーが応答しません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A device of the kiosk is not answering.</source>
        <translation>端末の一部の機器が応答しません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A service refused the kiosk&apos;s access.</source>
        <translation>外部サービスへの接続が拒否されました。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A service cannot be reached.</source>
        <translation>外部サービスに接続できません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A service gave an answer we cannot read.</source>
        <translation>外部サービスから読み取れない応答がありました。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A service reported an error.</source>
        <translation>外部サービスでエラーが発生しました。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk is not set up correctly.</source>
        <translation>端末の設定に誤りがあります。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Are you still there?</source>
        <translation>まだご利用中ですか？</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This will end in {seconds} seconds.</source>
        <translation>あと{seconds}秒で終了します。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>More time</source>
        <translation>時間を延長する</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Remaining: {amount}</source>
        <translation>残り金額：{amount}</translation>
    </message>
</context>
</TS>
